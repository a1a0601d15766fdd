package file

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/internal/resources"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness runs a Watcher until the test ends and collects what it publishes.
type harness struct {
	w       *Watcher
	bundles chan *resources.Bundle
	files   chan []string
}

func startWatcher(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{bundles: make(chan *resources.Bundle, 100), files: make(chan []string, 100)}
	opts.OnFilesChanged = func(p []string) { h.files <- p }
	opts.Quiet, opts.MaxWait = 10*time.Millisecond, 200*time.Millisecond
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := NewWatcher(opts, func(b *resources.Bundle) { h.bundles <- b }, logger)
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// testWriter sends log lines to t.Log, shown only for failing or verbose tests.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitBundle waits until a published bundle's names equal want.
func (h *harness) waitBundle(t *testing.T, what string, want ...string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	var last []string
	for {
		select {
		case b := <-h.bundles:
			last = names(b)
			if cmp.Equal(want, last) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: timed out; last published %v, want %v", what, last, want)
		}
	}
}

// waitFiles waits until OnFilesChanged names want.
func (h *harness) waitFiles(t *testing.T, what string, want string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-h.files:
			if slices.Contains(got, want) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: timed out waiting for a change of %s", what, want)
		}
	}
}

func TestWatchConfigDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), service("a"))
	h := startWatcher(t, Options{Paths: []string{dir}})
	h.waitBundle(t, "initial load", "Service default/a")

	writeFile(t, filepath.Join(dir, "b.yaml"), service("b"))
	h.waitBundle(t, "new file", "Service default/a", "Service default/b")

	// An editor's save: write elsewhere, rename over the original.
	writeFile(t, filepath.Join(dir, ".a.yaml.tmp"), service("a2"))
	if err := os.Rename(filepath.Join(dir, ".a.yaml.tmp"), filepath.Join(dir, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	h.waitBundle(t, "rename over", "Service default/a2", "Service default/b")

	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	h.waitBundle(t, "delete", "Service default/a2")

	// A new sub-directory, with a file written right away, and later another.
	writeFile(t, filepath.Join(dir, "sub", "c.yaml"), service("c"))
	h.waitBundle(t, "new sub-directory", "Service default/a2", "Service default/c")
	writeFile(t, filepath.Join(dir, "sub", "d.yaml"), service("d"))
	h.waitBundle(t, "file in new sub-directory", "Service default/a2", "Service default/c", "Service default/d")
}

func TestWatchConfigMapSwap(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config")
	atomicWrite(t, dir, map[string]string{"gw.yaml": service("v1")})
	h := startWatcher(t, Options{Paths: []string{dir}})
	h.waitBundle(t, "initial load", "Service default/v1")
	atomicWrite(t, dir, map[string]string{"gw.yaml": service("v2")})
	h.waitBundle(t, "..data swap", "Service default/v2")
}

func TestWatchSingleFileDeleteRecreate(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "gw.yaml")
	writeFile(t, f, service("v1"))
	writeFile(t, filepath.Join(dir, "other.yaml"), service("other")) // not configured
	h := startWatcher(t, Options{Paths: []string{f}})
	h.waitBundle(t, "initial load", "Service default/v1")
	if err := os.Remove(f); err != nil {
		t.Fatal(err)
	}
	writeFile(t, f, service("v2"))
	h.waitBundle(t, "recreated", "Service default/v2")
}

func TestWatchDirectoryDeleteRecreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config")
	writeFile(t, filepath.Join(dir, "a.yaml"), service("v1"))
	h := startWatcher(t, Options{Paths: []string{dir}})
	h.waitBundle(t, "initial load", "Service default/v1")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), service("v2"))
	h.waitBundle(t, "recreated directory", "Service default/v2")
	writeFile(t, filepath.Join(dir, "b.yaml"), service("b"))
	h.waitBundle(t, "watch re-established", "Service default/v2", "Service default/b")
}

func TestWatchCredentials(t *testing.T) {
	creds := t.TempDir()
	atomicWrite(t, filepath.Join(creds, "frontend-credential"), map[string]string{"cert": "C1", "key": "K1"})
	h := startWatcher(t, Options{CredentialsDir: creds})
	h.waitBundle(t, "initial load", "Secret istio-system/frontend-credential cert=C1 key=K1")

	atomicWrite(t, filepath.Join(creds, "frontend-credential"), map[string]string{"cert": "C2", "key": "K2"})
	h.waitBundle(t, "rotated secret", "Secret istio-system/frontend-credential cert=C2 key=K2")

	writeFile(t, filepath.Join(creds, "inventory-credential", "cert"), "I1")
	h.waitBundle(t, "new secret", "Secret istio-system/frontend-credential cert=C2 key=K2", "Secret istio-system/inventory-credential cert=I1")

	writeFile(t, filepath.Join(creds, "inventory-credential", "key"), "IK1")
	h.waitBundle(t, "new key", "Secret istio-system/frontend-credential cert=C2 key=K2", "Secret istio-system/inventory-credential cert=I1 key=IK1")

	if err := os.RemoveAll(filepath.Join(creds, "frontend-credential")); err != nil {
		t.Fatal(err)
	}
	h.waitBundle(t, "deleted secret", "Secret istio-system/inventory-credential cert=I1 key=IK1")
}

func TestWatchExtraFiles(t *testing.T) {
	cfg := t.TempDir()
	certs := filepath.Join(t.TempDir(), "certs")
	writeFile(t, filepath.Join(cfg, "a.yaml"), service("a"))
	writeFile(t, filepath.Join(certs, "tls.crt"), "v1")
	mounted := filepath.Join(t.TempDir(), "mounted")
	atomicWrite(t, mounted, map[string]string{"ca.crt": "v1"})

	h := startWatcher(t, Options{Paths: []string{cfg}})
	h.waitBundle(t, "initial load", "Service default/a")
	crt, ca := filepath.Join(certs, "tls.crt"), filepath.Join(mounted, "ca.crt")
	missing := filepath.Join(t.TempDir(), "later", "key.pem")
	h.w.SetExtraFiles([]string{crt, ca, missing})

	// The watch is added asynchronously: rewrite until the change is reported.
	deadline := time.Now().Add(5 * time.Second)
	for got := false; !got; {
		writeFile(t, crt, "v2")
		select {
		case files := <-h.files:
			got = slices.Contains(files, crt)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no OnFilesChanged for a rewritten extra file")
		}
	}
	atomicWrite(t, mounted, map[string]string{"ca.crt": "v2"})
	h.waitFiles(t, "..data swap of an extra file", ca)

	// A file whose directory did not exist when it was named.
	writeFile(t, missing, "k")
	h.waitFiles(t, "extra file in a new directory", missing)
	writeFile(t, missing, "k2")
	h.waitFiles(t, "extra file rewritten in the new directory", missing)

	select {
	case b := <-h.bundles:
		t.Errorf("extra-file change republished the bundle: %v", names(b))
	default:
	}
}

func TestWatchMissingPathAtStart(t *testing.T) {
	w, err := NewWatcher(Options{Paths: []string{filepath.Join(t.TempDir(), "nope")}}, func(*resources.Bundle) { t.Error("published") }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err == nil {
		t.Fatal("Run succeeded with a missing path")
	}
}

func TestNewWatcherRejects(t *testing.T) {
	publish := func(*resources.Bundle) {}
	cases := []struct {
		name    string
		opts    Options
		publish func(*resources.Bundle)
	}{
		{"no publish callback", Options{Paths: []string{"."}}, nil},
		{"nothing to watch", Options{}, publish},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewWatcher(c.opts, c.publish, nil); err == nil {
				t.Error("no error")
			}
		})
	}
}
