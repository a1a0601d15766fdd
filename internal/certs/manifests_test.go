package certs

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The golden was checked against the real `kubectl create secret generic --dry-run=client
// -o yaml` (k8s.io/kubectl v0.37.2) run on the same files.
func TestSecretManifestsGolden(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"frontend.foocorp.com", "inventory.foocorp.com"}
	for _, h := range hosts {
		p := PathsFor(dir, h)
		for path, content := range map[string]string{
			p.ServerKey:  "-----BEGIN PRIVATE KEY-----\nkey of " + h + "\n-----END PRIVATE KEY-----\n",
			p.ServerCert: "-----BEGIN CERTIFICATE-----\ncert of " + h + "\n-----END CERTIFICATE-----\n",
			p.Chain:      "-----BEGIN CERTIFICATE-----\nchain of " + h + "\n-----END CERTIFICATE-----\n",
		} {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	ms, err := SecretManifests(dir, hosts, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "frontend-credential" || ms[1].Name != "inventory-credential" {
		t.Fatalf("names: %+v", ms)
	}
	for _, m := range ms {
		golden := filepath.Join("testdata", m.Name+".golden.yaml")
		if *update {
			if err := os.WriteFile(golden, m.YAML, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(m.YAML)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", golden, diff)
		}
	}
	if _, err := SecretManifests(t.TempDir(), hosts, "x"); err == nil {
		t.Error("missing files: no error")
	}
}

func TestSecretName(t *testing.T) {
	for in, want := range map[string]string{
		"frontend.foocorp.com":  "frontend-credential",
		"Inventory.foocorp.com": "inventory-credential",
		"*.foocorp.com":         "wildcard-credential",
		"localhost":             "localhost-credential",
	} {
		if got := SecretName(in); got != want {
			t.Errorf("SecretName(%q) = %q, want %q", in, got, want)
		}
	}
}
