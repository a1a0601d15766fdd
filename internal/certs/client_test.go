package certs

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// ClientTLS presents host's client certificate and trusts host's CA chain: the server
// certificate of host verifies with it, and another host's does not.
func TestClientTLS(t *testing.T) {
	dir := t.TempDir()
	const fe, inv = "frontend.foocorp.com", "inventory.foocorp.com"
	if err := Generate(Options{Dir: dir, Hosts: []string{fe, inv}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := ClientTLS(dir, fe)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != fe || len(cfg.Certificates) != 1 {
		t.Fatalf("ServerName %q, %d certificates", cfg.ServerName, len(cfg.Certificates))
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(leaf.Subject.CommonName, fe) { // "frontend.foocorp.com client"
		t.Fatalf("client certificate for %q", leaf.Subject.CommonName)
	}
	verify := func(host string) error {
		b, err := os.ReadFile(PathsFor(dir, host).ServerCert)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: host})
		return err
	}
	if err := verify(fe); err != nil {
		t.Fatalf("own server certificate: %v", err)
	}
	if err := verify(inv); err == nil {
		t.Fatal("another PKI's server certificate verified")
	}
	if _, err := ClientTLS(dir, "missing.foocorp.com"); err == nil || !strings.Contains(err.Error(), "missing.foocorp.com") {
		t.Fatalf("missing host: %v", err)
	}
}
