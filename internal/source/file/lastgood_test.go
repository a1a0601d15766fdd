package file

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// A file edited into something that does not decode keeps its last clean objects (with
// the errors reported) until it is fixed; removing it still removes them.
func TestWatchKeepsLastGoodVersionOfBrokenFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	writeFile(t, a, service("a")+"---\n"+service("a-second"))
	writeFile(t, b, service("b"))
	h := startWatcher(t, Options{Paths: []string{dir}})
	h.waitBundle(t, "initial load", "Service default/a", "Service default/a-second", "Service default/b")

	for name, broken := range map[string]string{
		"invalid YAML":  "apiVersion: v1\nkind: Service\nmetadata: {name: a\n",
		"unknown field": service("a-renamed") + "spec: {nonsense: 1}\n",
	} {
		writeFile(t, a, broken)
		writeFile(t, b, service("b2")) // a valid change elsewhere still applies
		got := h.waitDiagnostics(t, name)
		if n := names(got); strings.Join(n, ",") != "Service default/a,Service default/a-second,Service default/b2" {
			t.Errorf("%s: published %v, want a's last good objects and b2", name, n)
		}
		var errs, kept int
		for _, d := range got.Diagnostics {
			if d.File == a && d.Severity == diag.Error {
				errs++
			}
			if d.File == a && d.Message == keptMessage {
				kept++
			}
		}
		if errs == 0 || kept != 1 {
			t.Errorf("%s: diagnostics %v; want a's errors and one %q", name, got.Diagnostics, keptMessage)
		}
		writeFile(t, b, service("b"))
		h.waitBundle(t, "b back", "Service default/a", "Service default/a-second", "Service default/b")
	}

	writeFile(t, a, service("a3"))
	h.waitBundle(t, "fixed", "Service default/a3", "Service default/b")
	writeFile(t, a, "kind: Nope\n[")
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	h.waitBundle(t, "removed", "Service default/b")

	// One-shot loads (portcullis validate) report the file as it is.
	writeFile(t, a, "apiVersion: v1\nkind: Service\nmetadata: {name: a\n")
	one, err := Load(Options{Paths: []string{dir}})
	if err != nil || strings.Join(names(one), ",") != "Service default/b" {
		t.Errorf("Load: %v %v, want only b", names(one), err)
	}
}

// waitDiagnostics waits for a published bundle with diagnostics.
func (h *harness) waitDiagnostics(t *testing.T, what string) *resources.Bundle {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case b := <-h.bundles:
			if len(b.Diagnostics) > 0 && len(b.Services) == 3 && b.Services[2].Name == "b2" {
				return b
			}
		case <-deadline:
			t.Fatalf("%s: timed out waiting for a bundle with diagnostics", what)
		}
	}
}
