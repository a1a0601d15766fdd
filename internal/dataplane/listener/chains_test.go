package listener

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// issue returns a certificate for cn signed by parent (self-signed when parent is nil).
func issue(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		BasicConstraintsValid: true, IsCA: ca,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return sign(t, tmpl, parent, key, parentKey), key
}

// TestChainVerifier: chains verify as crypto/tls would verify them, a verified chain is
// remembered only while all its certificates are valid, and failures are never
// remembered.
func TestChainVerifier(t *testing.T) {
	day := time.Now().Add(24 * time.Hour)
	root, rootKey := issue(t, "root", nil, nil, true, day.Add(24*time.Hour))
	inter, interKey := issue(t, "intermediate", root, rootKey, true, day.Add(24*time.Hour))
	leaf, _ := issue(t, "client", inter, interKey, false, day)
	other, otherKey := issue(t, "other root", nil, nil, true, day)
	foreign, _ := issue(t, "foreign client", other, otherKey, false, day)

	pool := x509.NewCertPool()
	pool.AddCert(root)
	pool.AddCert(inter) // the walkthrough's CA bundle: root and intermediate
	now := time.Now()
	v := newChainVerifier(pool, func() time.Time { return now })

	for _, presented := range [][]*x509.Certificate{{leaf, inter}, {leaf}} {
		chains, err := v.verify(presented)
		if err != nil || len(chains) == 0 || chains[0][0] != leaf {
			t.Fatalf("verify %d certs: %v %v", len(presented), chains, err)
		}
	}
	if len(v.cache) != 2 {
		t.Fatalf("%d cached chains, want 2 (one per presented list)", len(v.cache))
	}
	if _, err := v.verify([]*x509.Certificate{foreign}); err == nil {
		t.Fatal("a certificate of another CA verified")
	}
	if _, err := v.verify([]*x509.Certificate{foreign, other}); err == nil {
		t.Fatal("a certificate of another CA verified with its root presented")
	}
	if len(v.cache) != 2 {
		t.Fatal("a failed verification was cached")
	}

	// Past the leaf's NotAfter the cached entry no longer applies: verified again, it fails.
	now = day.Add(time.Hour)
	if _, err := v.verify([]*x509.Certificate{leaf, inter}); err == nil {
		t.Fatal("an expired certificate verified from the cache")
	}

	if _, err := newChainVerifier(nil, time.Now).verify([]*x509.Certificate{leaf}); err == nil {
		t.Fatal("verified without client CAs (system roots?)")
	}
}
