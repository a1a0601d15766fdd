package file

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/internal/resources"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var atomicSeq atomic.Int64

// atomicWrite replaces the content of dir the way the Kubernetes kubelet's atomic writer
// updates a ConfigMap or Secret volume: files go into a new timestamped directory, a
// ..data symlink to it is renamed over the old one, and the visible names are symlinks
// into ..data.
func atomicWrite(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	ts := fmt.Sprintf("..2026_01_01_00_00_00.%d", atomicSeq.Add(1))
	for name, content := range files {
		writeFile(t, filepath.Join(dir, ts, name), content)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

func service(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s}\n", name)
}

// names lists "Kind ns/name" of the services and secrets in b, sorted, with secret data
// for secrets ("Secret ns/name key=value ...").
func names(b *resources.Bundle) []string {
	var out []string
	for _, s := range b.Services {
		out = append(out, "Service "+s.Namespace+"/"+s.Name)
	}
	for _, s := range b.Gateways {
		out = append(out, "Gateway "+s.Namespace+"/"+s.Name)
	}
	for _, s := range b.Secrets {
		e := "Secret " + s.Namespace + "/" + s.Name
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e += " " + k + "=" + string(s.Data[k])
		}
		out = append(out, e)
	}
	return out
}
