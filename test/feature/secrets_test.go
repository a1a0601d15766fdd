package feature

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// how a file is replaced.
type how int

const (
	inPlace    how = iota // open, truncate, write (an editor saving in place)
	renameOver            // write a temporary file, rename it over (atomic)
)

func generatePKI(t testing.TB, dir string, hosts ...string) {
	t.Helper()
	if err := certs.Generate(certs.Options{Dir: dir, Hosts: hosts}); err != nil {
		t.Fatal(err)
	}
}

// secretData is the host's credential as `kubectl create secret generic` would hold it.
func (e *env) secretData(host string) map[string][]byte {
	p := certs.PathsFor(e.pki, host)
	return map[string][]byte{"key": read(e.t, p.ServerKey), "cert": read(e.t, p.ServerCert), "cacert": read(e.t, p.Chain)}
}

// publishSecret writes the host's current PKI files as its credential.
func (e *env) publishSecret(host string, h how) {
	e.t.Helper()
	e.putSecret(host, e.secretData(host), h)
}

// putSecret writes a credential for host: into --credentials-dir with a Kubernetes
// ..data swap when the environment uses one, else as a Secret manifest in the config dir.
func (e *env) putSecret(host string, data map[string][]byte, h how) {
	e.t.Helper()
	if e.creds != "" {
		kubeSwap(e.t, filepath.Join(e.creds, secretName(host)), data)
		return
	}
	path := filepath.Join(e.config, secretName(host)+".yaml")
	y := []byte(secretYAML(secretName(host), data))
	if h == renameOver {
		writeRenameOver(e.t, path, y)
	} else {
		writeInPlace(e.t, path, y)
	}
}

// deleteSecret removes the host's credential.
func (e *env) deleteSecret(host string) {
	e.t.Helper()
	p := filepath.Join(e.config, secretName(host)+".yaml")
	if e.creds != "" {
		p = filepath.Join(e.creds, secretName(host))
	}
	if err := os.RemoveAll(p); err != nil {
		e.t.Fatal(err)
	}
}

// rotateServer issues a new server certificate for host from its intermediate, publishes
// it and returns its serial.
func (e *env) rotateServer(host string, h how) string {
	e.t.Helper()
	if err := certs.IssueServer(e.pki, host, certs.Options{}); err != nil {
		e.t.Fatal(err)
	}
	e.publishSecret(host, h)
	return e.serverSerial(host)
}

// serverSerial is the serial (hex, as /certs shows it) of host's server certificate on disk.
func (e *env) serverSerial(host string) string {
	e.t.Helper()
	return serialOf(e.t, certs.PathsFor(e.pki, host).ServerCert)
}

func serialOf(t testing.TB, certPath string) string {
	t.Helper()
	blk, _ := pem.Decode(read(t, certPath))
	if blk == nil {
		t.Fatalf("%s: no PEM", certPath)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}

func secretYAML(name string, data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: istio-system\ndata:\n", name)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %s\n", k, base64.StdEncoding.EncodeToString(data[k]))
	}
	return b.String()
}

func read(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeInPlace(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeRenameOver(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
}

var swaps atomic.Int64

// kubeSwap updates a secret volume exactly as the kubelet's AtomicWriter does: write the
// files into a new timestamped directory, point a temporary symlink at it, rename that
// over ..data (the one atomic step), make sure every key has its ..data/KEY symlink, and
// remove the previous directory and keys that are gone.
func kubeSwap(t testing.TB, dir string, data map[string][]byte) {
	t.Helper()
	mkdir(t, dir)
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	ts := fmt.Sprintf("..%s.%d", time.Now().UTC().Format("2006_01_02_15_04_05"), swaps.Add(1))
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, ts, k), v, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for k := range data {
		link := filepath.Join(dir, k)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if n := en.Name(); !strings.HasPrefix(n, ".") && data[n] == nil {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	if old != "" {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
}
