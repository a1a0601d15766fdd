package translate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/decode"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.json from the current output")

// optionsPrefix starts an optional comment line of a case giving Options as JSON, e.g.
// `# options: {"Namespace": "gw", "Labels": {"app": "edge"}}`.
const optionsPrefix = "# options:"

type goldenOut struct {
	Snapshot    *snapshot.Snapshot `json:"snapshot"`
	Diagnostics []diag.Diagnostic  `json:"diagnostics"`
}

func loadCase(t *testing.T, in string) (*resources.Bundle, Options) {
	t.Helper()
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var opts Options
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, optionsPrefix) {
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, optionsPrefix)), &opts); err != nil {
				t.Fatalf("%s: options line: %v", in, err)
			}
		}
	}
	return decode.Decode(data, filepath.Base(in)), opts
}

func render(t *testing.T, snap *snapshot.Snapshot, diags []diag.Diagnostic) []byte {
	t.Helper()
	if diags == nil {
		diags = []diag.Diagnostic{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(goldenOut{Snapshot: snap, Diagnostics: diags}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGolden translates every testdata/<case>.in.yaml and compares with <case>.out.json.
// Review a golden's diff like code.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			b, opts := loadCase(t, in)
			snap, diags := Translate(b, opts)
			got := render(t, snap, diags)
			out := strings.TrimSuffix(in, ".in.yaml") + ".out.json"
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/translate -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", out, diff)
			}
		})
	}
}

// TestDeterministic: the output does not depend on the order objects arrive in (conflict
// order comes from timestamps and sources, not slice positions) nor on map iteration.
func TestDeterministic(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range ins {
		t.Run(filepath.Base(in), func(t *testing.T) {
			b, opts := loadCase(t, in)
			snap1, d1 := Translate(b, opts)
			first := render(t, snap1, d1)
			for range 3 {
				r := reversed(b)
				snap2, d2 := Translate(r, opts)
				if diff := cmp.Diff(string(first), string(render(t, snap2, d2))); diff != "" {
					t.Fatalf("output depends on input order (-first +reversed):\n%s", diff)
				}
			}
		})
	}
}

func reversed(b *resources.Bundle) *resources.Bundle {
	r := &resources.Bundle{
		Gateways:         slices.Clone(b.Gateways),
		VirtualServices:  slices.Clone(b.VirtualServices),
		DestinationRules: slices.Clone(b.DestinationRules),
		ServiceEntries:   slices.Clone(b.ServiceEntries),
		Secrets:          slices.Clone(b.Secrets),
		Services:         slices.Clone(b.Services),
		EndpointSlices:   slices.Clone(b.EndpointSlices),
		Pods:             slices.Clone(b.Pods),
		Diagnostics:      slices.Clone(b.Diagnostics),
	}
	slices.Reverse(r.Pods)
	slices.Reverse(r.Gateways)
	slices.Reverse(r.VirtualServices)
	slices.Reverse(r.DestinationRules)
	slices.Reverse(r.ServiceEntries)
	slices.Reverse(r.Services)
	slices.Reverse(r.EndpointSlices)
	return r
}
