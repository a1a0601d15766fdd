package certs

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var foocorp = []string{"frontend.foocorp.com", "inventory.foocorp.com"}

func readCerts(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, c)
	}
}

func readKey(t *testing.T, path string) any {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatalf("%s: want a PKCS#8 PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

// verify checks that the chain in certPath verifies against host's root for eku.
func verify(t *testing.T, dir, host, certPath string, eku x509.ExtKeyUsage, dnsName string) error {
	t.Helper()
	chain := readCerts(t, certPath)
	if len(chain) != 2 {
		t.Fatalf("%s: %d certificates, want leaf + intermediate", certPath, len(chain))
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(readCerts(t, PathsFor(dir, host).RootCert)[0])
	inters.AddCert(chain[1])
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: dnsName,
		KeyUsages: []x509.ExtKeyUsage{eku}})
	return err
}

func TestGenerate(t *testing.T) {
	for _, tc := range []struct {
		keyType string
		wantKey func(any) bool
	}{
		{"", func(k any) bool { _, ok := k.(*ecdsa.PrivateKey); return ok }},
		{ECDSAP256, func(k any) bool { _, ok := k.(*ecdsa.PrivateKey); return ok }},
		{RSA2048, func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 }},
	} {
		t.Run("keytype="+tc.keyType, func(t *testing.T) {
			dir := t.TempDir()
			if err := Generate(Options{Dir: dir, Hosts: foocorp, KeyType: tc.keyType}); err != nil {
				t.Fatal(err)
			}
			for i, host := range foocorp {
				other := foocorp[1-i]
				p := PathsFor(dir, host)
				for _, k := range []string{p.RootKey, p.IntermediateKey, p.ServerKey, p.ClientKey} {
					if !tc.wantKey(readKey(t, k)) {
						t.Errorf("%s: wrong key type", k)
					}
				}
				if err := verify(t, dir, host, p.ServerCert, x509.ExtKeyUsageServerAuth, host); err != nil {
					t.Errorf("server cert of %s: %v", host, err)
				}
				if err := verify(t, dir, host, p.ClientCert, x509.ExtKeyUsageClientAuth, ""); err != nil {
					t.Errorf("client cert of %s: %v", host, err)
				}
				if err := verify(t, dir, host, p.ClientCert, x509.ExtKeyUsageServerAuth, ""); err == nil {
					t.Errorf("client cert of %s verifies for serverAuth", host)
				}
				if err := verify(t, dir, other, p.ClientCert, x509.ExtKeyUsageClientAuth, ""); err == nil {
					t.Errorf("client cert of %s verifies against the CA of %s", host, other)
				}
				if got := readCerts(t, p.ClientCert)[0].Subject.CommonName; got != host+" client" {
					t.Errorf("client CN = %q", got)
				}
				for d, want := range map[string]os.FileMode{
					filepath.Join(dir, host): 0o755, filepath.Dir(p.RootKey): 0o700, filepath.Dir(p.RootCert): 0o755,
				} {
					if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != want {
						t.Errorf("%s: mode %v, want %v (%v)", d, fi.Mode().Perm(), want, err)
					}
				}
				chain := readCerts(t, p.Chain)
				if len(chain) != 2 || !chain[0].Equal(readCerts(t, p.IntermediateCert)[0]) ||
					!chain[1].Equal(readCerts(t, p.RootCert)[0]) {
					t.Errorf("ca-chain of %s is not intermediate + root", host)
				}
			}
		})
	}
}

func TestIssueServerRotates(t *testing.T) {
	dir := t.TempDir()
	host := foocorp[0]
	if err := Generate(Options{Dir: dir, Hosts: []string{host}}); err != nil {
		t.Fatal(err)
	}
	p := PathsFor(dir, host)
	before := readCerts(t, p.ServerCert)[0]
	interBefore, _ := os.ReadFile(p.IntermediateCert)
	now := time.Now().Add(time.Minute)
	if err := IssueServer(dir, host, Options{Validity: time.Hour, Clock: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	after := readCerts(t, p.ServerCert)[0]
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Error("serial did not change")
	}
	if !after.NotAfter.Equal(now.Add(time.Hour).Truncate(time.Second)) {
		t.Errorf("NotAfter = %v, want %v", after.NotAfter, now.Add(time.Hour))
	}
	if err := verify(t, dir, host, p.ServerCert, x509.ExtKeyUsageServerAuth, host); err != nil {
		t.Error(err)
	}
	interAfter, _ := os.ReadFile(p.IntermediateCert)
	if string(interAfter) != string(interBefore) {
		t.Error("intermediate changed")
	}
	if err := IssueServer(t.TempDir(), host, Options{}); err == nil {
		t.Error("IssueServer without an intermediate succeeded")
	}
}

func TestGenerateErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"no dir":       {Hosts: foocorp},
		"no hosts":     {Dir: t.TempDir()},
		"bad key type": {Dir: t.TempDir(), Hosts: foocorp, KeyType: "dsa"},
		"escaping":     {Dir: t.TempDir(), Hosts: []string{"../etc"}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Generate(o); err == nil {
				t.Error("no error")
			}
		})
	}
	// Nothing is written outside dir.
	if _, err := os.Stat(filepath.Join(os.TempDir(), "etc", "1_root")); err == nil {
		t.Error("escaped dir")
	}
}
