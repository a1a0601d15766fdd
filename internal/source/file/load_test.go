package file

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/diag"
)

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.yaml"), service("b"))
	writeFile(t, filepath.Join(dir, "a.yml"), service("a"))
	writeFile(t, filepath.Join(dir, "sub", "c.json"), `{"apiVersion":"v1","kind":"Service","metadata":{"name":"c"}}`)
	writeFile(t, filepath.Join(dir, "README.md"), "not config")
	writeFile(t, filepath.Join(dir, ".hidden.yaml"), service("hidden"))
	writeFile(t, filepath.Join(dir, "d.yaml~"), service("backup"))
	// A ConfigMap volume: content reached through e.yaml -> ..data/e.yaml, read once.
	atomicWrite(t, filepath.Join(dir, "cm"), map[string]string{"e.yaml": service("e")})
	if err := os.Symlink("nowhere.yaml", filepath.Join(dir, "broken.yaml")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "bad.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {typo: 1}\n")

	b, err := Load(Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Service default/a", "Service default/b", "Service default/e", "Service default/c"}
	if diff := cmp.Diff(want, names(b)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if got := b.Services[0].Source.File; got != filepath.Join(dir, "a.yml") {
		t.Errorf("source file = %q", got)
	}
	wantDiags := []diag.Diagnostic{
		{Severity: diag.Error, File: filepath.Join(dir, "bad.yaml"), Kind: "Service", Namespace: "default", Name: "bad",
			Field: "spec.typo", Message: `unknown field "typo"`},
		{Severity: diag.Error, File: filepath.Join(dir, "broken.yaml"),
			Message: "cannot read: stat " + filepath.Join(dir, "broken.yaml") + ": no such file or directory"},
	}
	if diff := cmp.Diff(wantDiags, b.Diagnostics); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

func TestLoadExplicitFileAndDuplicates(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "gateway.conf") // named explicitly: read whatever its extension
	writeFile(t, f, service("x"))
	b, err := Load(Options{Paths: []string{f, dir, f}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Service default/x"}, names(b)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

func TestLoadMissingPath(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(Options{Paths: []string{filepath.Join(dir, "nope.yaml")}, CredentialsDir: filepath.Join(dir, "creds")})
	if err == nil {
		t.Fatal("no error for missing paths")
	}
	for _, want := range []string{`config path "` + filepath.Join(dir, "nope.yaml"), `credentials directory "` + filepath.Join(dir, "creds")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLoadCredentials(t *testing.T) {
	creds := t.TempDir()
	// One secret as kubectl would mount it, one as plain files, and a stray file.
	atomicWrite(t, filepath.Join(creds, "frontend-credential"), map[string]string{"cert": "C1", "key": "K1", "cacert": "CA1"})
	writeFile(t, filepath.Join(creds, "inventory-credential", "cert"), "C2")
	writeFile(t, filepath.Join(creds, "inventory-credential", "key"), "K2")
	writeFile(t, filepath.Join(creds, "inventory-credential", ".swp"), "ignored")
	writeFile(t, filepath.Join(creds, "stray.pem"), "x")

	cases := []struct {
		name      string
		namespace string
		want      []string
	}{
		{"default namespace", "", []string{
			"Secret istio-system/frontend-credential cacert=CA1 cert=C1 key=K1",
			"Secret istio-system/inventory-credential cert=C2 key=K2",
		}},
		{"gateway namespace", "gw", []string{
			"Secret gw/frontend-credential cacert=CA1 cert=C1 key=K1",
			"Secret gw/inventory-credential cert=C2 key=K2",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Load(Options{CredentialsDir: creds, Namespace: c.namespace})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, names(b)); diff != "" {
				t.Errorf("secrets (-want +got):\n%s", diff)
			}
			wantDiags := []diag.Diagnostic{{Severity: diag.Warning, File: filepath.Join(creds, "stray.pem"),
				Message: "ignored: a credentials directory holds one sub-directory per secret, one file per key"}}
			if diff := cmp.Diff(wantDiags, b.Diagnostics); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}
