package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCerts(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newCertsCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return out.String(), err
}

func TestCertsCmd(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "manifests")
	out, err := runCerts(t, "--dir", filepath.Join(dir, "pki"), "--host", "frontend.foocorp.com",
		"--host", "inventory.foocorp.com", "--secrets-out", secrets)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, f := range []string{
		"pki/frontend.foocorp.com/3_application/certs/frontend.foocorp.com.cert.pem",
		"pki/inventory.foocorp.com/4_client/private/inventory.foocorp.com.key.pem",
		"manifests/frontend-credential.yaml",
		"manifests/inventory-credential.yaml",
	} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	out, err = runCerts(t, "--dir", filepath.Join(dir, "pki2"), "--host", "a.example.com", "--host", "b.example.com",
		"--key-type", "rsa2048", "--secrets-out", "-")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "kind: Secret") != 2 || !strings.Contains(out, "\n---\napiVersion: v1\n") {
		t.Errorf("stdout manifests:\n%s", out)
	}
}

func TestCertsCmdErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no dir":       {"--host", "a.example.com"},
		"no host":      {"--dir", t.TempDir()},
		"bad key type": {"--dir", t.TempDir(), "--host", "a.example.com", "--key-type", "dsa"},
		"extra arg":    {"--dir", t.TempDir(), "--host", "a.example.com", "extra"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := runCerts(t, args...); err == nil {
				t.Error("no error")
			}
		})
	}
}
