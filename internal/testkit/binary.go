package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Binary builds ./cmd/portcullis once per test process (declare one as a package-level
// variable in a _test.go file) so end-to-end tests run the real binary.
type Binary struct {
	once sync.Once
	path string
	err  error
}

// Path builds the binary on first use and returns its path; a build failure fails t.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "portcullis-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "portcullis")
		cmd := exec.Command("go", "build", "-o", b.path, "./cmd/portcullis")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/portcullis: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// RepoRoot is the repository's top directory (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
