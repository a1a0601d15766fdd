package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is the tests' "now"; the fake clock starts there.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// testCA is a root + intermediate, as the walkthrough's PKI.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
}

var serial int64 = 1000

func mkCert(t *testing.T, tmpl *x509.Certificate, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++ // tests are not parallel
	tmpl.SerialNumber = big.NewInt(serial)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = t0.Add(-time.Hour), t0.Add(24*time.Hour)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	ca := &testCA{}
	ca.root, ca.rootKey = mkCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: name + " root"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, nil)
	ca.inter, ca.interKey = mkCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: name + " intermediate"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, ca.root, ca.rootKey)
	return ca
}

// leaf is a server certificate for host signed by the intermediate, valid [nb, na).
func (ca *testCA) leaf(t *testing.T, host string, nb, na time.Time) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	return mkCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: nb, NotAfter: na, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca.inter, ca.interKey)
}

func certsPEM(cs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range cs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func keyPEM(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func (ca *testCA) chainPEM() []byte { return certsPEM(ca.inter, ca.root) }

// crlPEM is a CRL signed by the intermediate.
func (ca *testCA) crlPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: t0.Add(-time.Hour), NextUpdate: t0.Add(time.Hour)}, ca.inter, ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// material is one host's secret contents.
type material struct {
	ca        *testCA
	leafCert  *x509.Certificate
	cert, key []byte // leaf + intermediate; PKCS#8
}

func newMaterial(t *testing.T, ca *testCA, host string) material {
	t.Helper()
	c, k := ca.leaf(t, host, t0.Add(-time.Hour), t0.Add(24*time.Hour))
	return material{ca: ca, leafCert: c, cert: certsPEM(c, ca.inter), key: keyPEM(t, k)}
}

// generic is the walkthrough's secret layout.
func (m material) generic() map[string][]byte {
	return map[string][]byte{"key": m.key, "cert": m.cert, "cacert": m.ca.chainPEM()}
}

func (m material) tlsStyle() map[string][]byte {
	return map[string][]byte{"tls.key": m.key, "tls.crt": m.cert, "ca.crt": m.ca.chainPEM()}
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock { c := &fakeClock{}; c.Set(t); return c }
func (c *fakeClock) Now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)  { c.ns.Store(t.UnixNano()) }
