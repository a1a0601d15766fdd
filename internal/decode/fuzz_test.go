package decode

import (
	"os"
	"testing"
)

// FuzzDecode checks that no input makes Decode panic or lose track of where it was.
func FuzzDecode(f *testing.F) {
	for _, p := range []string{"testdata/walkthrough-gateway.yaml", "testdata/walkthrough-virtualservices.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(gwHead + "spec:\n  servers:\n  - tls: {mode: MUTUALL}\n    hostz: [a]\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"a":"!"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := Decode(data, "fuzz.yaml")
		for _, d := range b.Diagnostics {
			if d.Message == "" || d.File != "fuzz.yaml" {
				t.Errorf("bad diagnostic %+v", d)
			}
		}
		for _, g := range b.Gateways {
			if g.Name == "" || g.Namespace == "" || g.Spec == nil {
				t.Errorf("incomplete gateway %+v", g.Meta)
			}
		}
	})
}
