package file

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLoadedUnchanged: the watcher serves its first load without reading everything a
// second time only when nothing it read changed before the watches were in place.
func TestLoadedUnchanged(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, cfg, creds string)
		want   bool
	}{
		{name: "nothing", change: func(*testing.T, string, string) {}, want: true},
		{name: "file rewritten", change: func(t *testing.T, cfg, _ string) {
			writeFile(t, filepath.Join(cfg, "a.yaml"), service("a")+"\n# longer\n")
		}, want: false},
		{name: "file added", change: func(t *testing.T, cfg, _ string) {
			writeFile(t, filepath.Join(cfg, "b.yaml"), service("b"))
		}, want: false},
		{name: "file removed", change: func(t *testing.T, cfg, _ string) {
			if err := os.Remove(filepath.Join(cfg, "a.yaml")); err != nil {
				t.Fatal(err)
			}
		}, want: false},
		{name: "sub-directory file added", change: func(t *testing.T, cfg, _ string) {
			writeFile(t, filepath.Join(cfg, "sub", "c.yaml"), service("c"))
		}, want: false},
		{name: "secret ..data swap", change: func(t *testing.T, _, creds string) {
			atomicWrite(t, filepath.Join(creds, "frontend-credential"), map[string]string{"cert": "new", "key": "new"})
		}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, creds := filepath.Join(dir, "cfg"), filepath.Join(dir, "creds")
			writeFile(t, filepath.Join(cfg, "a.yaml"), service("a"))
			writeFile(t, filepath.Join(cfg, "sub", "keep.yaml"), service("keep"))
			atomicWrite(t, filepath.Join(creds, "frontend-credential"), map[string]string{"cert": "old", "key": "old"})
			l, err := load(Options{Paths: []string{cfg}, CredentialsDir: creds}, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, cfg, creds)
			if got := l.unchanged(); got != tt.want {
				t.Fatalf("unchanged() = %v, want %v", got, tt.want)
			}
		})
	}
}
