package decode

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/diag"
)

// manyVirtualServices is n small VirtualService documents, one YAML stream.
func manyVirtualServices(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs%d\n  namespace: default\nspec:\n  hosts: [h%d.foo.com]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {host: svc%d}\n", i, i, i)
	}
	return []byte(b.String())
}

// TestLineNumbersFarIntoFile checks that file line numbers stay exact after many
// documents (they are counted incrementally, document by document).
func TestLineNumbersFarIntoFile(t *testing.T) {
	const n = 500
	data := append(manyVirtualServices(n), "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  name: s\n"...)
	// Each generated document is 12 lines; the broken one's duplicate key is its line 6.
	want := []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Index: n,
		Message: fmt.Sprintf(`invalid YAML: line %d: key "name" already set in map`, n*12+6)}}
	b := Decode(data, "f.yaml")
	if len(b.VirtualServices) != n {
		t.Fatalf("decoded %d virtual services, want %d", len(b.VirtualServices), n)
	}
	if diff := cmp.Diff(want, b.Diagnostics); diff != "" {
		t.Fatal(diff)
	}
}

// manySecrets is n Secrets of about 2.6 KB each (a certificate, key and CA bundle), one
// YAML stream: the shape of a large configuration's secrets file.
func manySecrets(n int) []byte {
	pem := strings.Repeat("    MIIBszCCAVmgAwIBAgIRAKn5p0d8Jq3CZ9pJ1rM6sFkwCgYIKoZIzj0EAwIwGjEYMBYG\n", 12)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s%d\n  namespace: istio-system\nstringData:\n", i)
		for _, k := range []string{"cert", "key", "cacert"} {
			fmt.Fprintf(&b, "  %s: |\n%s", k, pem)
		}
	}
	return []byte(b.String())
}

// BenchmarkDecodeManyDocuments is the start-up cost of a large configuration file; per
// document it must stay flat as the file grows (it was quadratic: line numbers were
// counted from the start of the file for every document).
func BenchmarkDecodeManyDocuments(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		data := manySecrets(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if got := len(Decode(data, "f.yaml").Secrets); got != n {
					b.Fatalf("decoded %d", got)
				}
			}
		})
	}
}
