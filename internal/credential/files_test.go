package credential

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestStoreFileMount(t *testing.T) {
	ca := newCA(t, "frontend")
	m1, m2 := newMaterial(t, ca, "frontend.foocorp.com"), newMaterial(t, ca, "frontend.foocorp.com")
	dir := t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cert.pem", m1.cert)
	write("key.pem", m1.key)
	write("ca.pem", ca.chainPEM())
	ref := snapshot.CredentialRef{NeedCA: true, Files: &snapshot.FileCredential{
		Certificate: filepath.Join(dir, "cert.pem"), PrivateKey: filepath.Join(dir, "key.pem"), CACerts: filepath.Join(dir, "ca.pem")}}
	f := newFixture(t)
	serial := func() string { return f.serving(ref.Key()) }

	f.store.Sync([]snapshot.CredentialRef{ref}, nil)
	if serial() != m1.leafCert.SerialNumber.Text(16) {
		t.Fatal("file credential not served")
	}
	// Half-rotated (new cert, old key): keep serving the last good pair.
	write("cert.pem", m2.cert)
	f.store.Resync()
	if serial() != m1.leafCert.SerialNumber.Text(16) {
		t.Fatal("last good version not kept")
	}
	write("key.pem", m2.key)
	f.store.Resync()
	if serial() != m2.leafCert.SerialNumber.Text(16) {
		t.Fatal("rotation not picked up")
	}
	// Files gone: fail closed.
	if err := os.Remove(filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	f.store.Resync()
	if serial() != "" {
		t.Fatal("credential served after its key file was deleted")
	}
	write("key.pem", m2.key)
	f.store.Resync()
	if serial() != m2.leafCert.SerialNumber.Text(16) {
		t.Fatal("recreated files not served")
	}
}

func TestOnChangeCancel(t *testing.T) {
	ca := newCA(t, "frontend")
	m := newMaterial(t, ca, "frontend.foocorp.com")
	s := New(nil, newClock(t0).Now, nil)
	calls := 0
	cancel := s.OnChange(func() { calls++ })
	refs := []snapshot.CredentialRef{{Secret: frontend}}
	s.Sync(refs, map[string]map[string][]byte{frontend: m.generic()})
	cancel()
	s.Sync(nil, nil)
	if calls != 1 {
		t.Errorf("%d calls, want 1", calls)
	}
}
