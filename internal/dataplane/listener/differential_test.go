package listener

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/url"
	"testing"
	"time"
)

// The client-certificate verifier (verify.go, chains.go) is the only check of client
// certificates: crypto/tls is told to verify nothing (RequireAnyClientCert) so that
// verified chains can be cached. These tests hold it to a reference built from
// x509.Certificate.Verify with the same roots, intermediates, client-auth key usage and
// time, plus the documented rules on top: one SAN of the leaf equals an allowed one, and
// no certificate of the leaf or any verified chain is listed by a CRL of its issuer.

// t0 is the fixed "now" of generated chains: results never depend on the wall clock.
var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// chainShape is what a fuzz input or a named case chooses about a chain.
type chainShape struct {
	inters     int  // intermediates between root and leaf, 0-2
	omitInter  bool // the client does not send its lowest intermediate
	poolInter  bool // the CA bundle holds the intermediates too (the walkthrough's bundle)
	otherRoot  bool // issued under another host's CA, not in this server's bundle
	leafTime   int  // 0 valid, 1 expired, 2 not yet valid
	interTime  int  // same, for the lowest intermediate
	leafEKU    int  // 0 clientAuth, 1 serverAuth only, 2 none, 3 any, 4 clientAuth+serverAuth
	interEKU   int  // 0 none, 1 clientAuth, 2 serverAuth only
	pathLenMax bool // the top intermediate allows no intermediate below it
	revoke     int  // 0 none, 1 leaf, 2 lowest intermediate, 3 leaf serial by another CA, 4 root
	sans       int  // 0 no SAN rule, 1 leaf's SAN allowed, 2 only another SAN allowed
	later      int  // second check: 0 same time, 1 after the leaf expires, 2 in a day, 3 in 2h
	// twin: a renewal of the lowest intermediate (same name and key, another serial),
	// valid only from t0+1h: 0 none, 1 presented by the client too, 2 in the CA bundle.
	// revoke 5 revokes the twin: a new path through a revoked certificate appears
	// while an earlier verification may be cached.
	twin int
}

// pki holds the keys a test reuses (generating keys dominates the cost otherwise).
type pki struct{ keys []*ecdsa.PrivateKey }

func newPKI(t testing.TB) *pki {
	p := &pki{}
	for range 6 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p.keys = append(p.keys, k)
	}
	return p
}

func validity(mode int) (time.Time, time.Time) {
	switch mode {
	case 1:
		return t0.Add(-48 * time.Hour), t0.Add(-time.Hour)
	case 2:
		return t0.Add(time.Hour), t0.Add(48 * time.Hour)
	}
	return t0.Add(-time.Hour), t0.Add(12 * time.Hour)
}

// sign issues tmpl for key, signed by parent (self-signed when parent is nil).
func sign(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(serial int64, cn string, eku int, from, till time.Time) *x509.Certificate {
	c := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: from, NotAfter: till, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	switch eku {
	case 1:
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case 2:
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	return c
}

// built is a generated chain and the server's view of it.
type built struct {
	presented []*x509.Certificate
	pool      *x509.CertPool
	sans      []string
	crls      []*x509.RevocationList
	later     time.Time
	other     *x509.Certificate // the other host's root
}

func (p *pki) build(t testing.TB, s chainShape) built {
	t.Helper()
	longFrom, longTill := t0.Add(-24*time.Hour), t0.Add(365*24*time.Hour)
	root := sign(t, caTemplate(1, "root", 0, longFrom, longTill), nil, p.keys[0], nil)
	other := sign(t, caTemplate(2, "other host root", 0, longFrom, longTill), nil, p.keys[1], nil)
	b := built{pool: x509.NewCertPool(), other: other}
	b.pool.AddCert(root)

	issuer, issuerKey := root, p.keys[0]
	if s.otherRoot {
		issuer, issuerKey = other, p.keys[1]
	}
	top := issuer
	var inters []*x509.Certificate
	for i := range s.inters {
		from, till := longFrom, longTill
		eku := 0
		if i == s.inters-1 { // the lowest intermediate
			from, till = validity(s.interTime)
			eku = s.interEKU
		}
		tmpl := caTemplate(int64(10+i), fmt.Sprintf("%s intermediate %d", top.Subject.CommonName, i), eku, from, till)
		if i == 0 && s.pathLenMax {
			tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
		}
		c := sign(t, tmpl, issuer, p.keys[2+i], issuerKey)
		inters = append(inters, c)
		issuer, issuerKey = c, p.keys[2+i]
	}
	from, till := validity(s.leafTime)
	u, _ := url.Parse("spiffe://foocorp/client")
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100), Subject: pkix.Name{CommonName: "client"},
		NotBefore: from, NotAfter: till, KeyUsage: x509.KeyUsageDigitalSignature,
		DNSNames: []string{"client.foocorp.com"}, URIs: []*url.URL{u},
	}
	switch s.leafEKU {
	case 0:
		leafTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case 1:
		leafTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case 3:
		leafTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	case 4:
		leafTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	leaf := sign(t, leafTmpl, issuer, p.keys[5], issuerKey)
	var twin *x509.Certificate
	if n := len(inters); n > 0 && s.twin > 0 {
		low := inters[n-1]
		tmpl := caTemplate(50, low.Subject.CommonName, s.interEKU, t0.Add(time.Hour), longTill)
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = low.MaxPathLen, low.MaxPathLenZero
		parent, parentKey := root, p.keys[0]
		if s.otherRoot {
			parent, parentKey = other, p.keys[1]
		}
		if n > 1 {
			parent, parentKey = inters[n-2], p.keys[2+n-2]
		}
		twin = sign(t, tmpl, parent, p.keys[2+n-1], parentKey)
	}

	b.presented = []*x509.Certificate{leaf}
	for i := len(inters) - 1; i >= 0; i-- {
		if i == len(inters)-1 && s.omitInter {
			continue
		}
		b.presented = append(b.presented, inters[i])
	}
	if s.poolInter {
		for _, c := range inters {
			b.pool.AddCert(c)
		}
	}
	switch {
	case twin != nil && s.twin == 1:
		b.presented = append(b.presented, twin)
	case twin != nil && s.twin == 2:
		b.pool.AddCert(twin)
	}

	crlOf := func(by *x509.Certificate, key *ecdsa.PrivateKey, serial *big.Int) {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(1), ThisUpdate: t0.Add(-time.Hour), NextUpdate: t0.Add(time.Hour),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: serial, RevocationTime: t0}},
		}, by, key)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		b.crls = append(b.crls, crl)
	}
	lowest, lowestKey := root, p.keys[0] // the leaf's issuer's issuer, when there is one
	if s.otherRoot {
		lowest, lowestKey = other, p.keys[1]
	}
	if n := len(inters); n > 1 {
		lowest, lowestKey = inters[n-2], p.keys[2+n-2]
	}
	switch s.revoke {
	case 1:
		crlOf(issuer, issuerKey, leaf.SerialNumber)
	case 2:
		if len(inters) == 0 {
			crlOf(issuer, issuerKey, leaf.SerialNumber)
		} else {
			crlOf(lowest, lowestKey, inters[len(inters)-1].SerialNumber)
		}
	case 3:
		crlOf(other, p.keys[1], leaf.SerialNumber)
	case 4:
		crlOf(root, p.keys[0], root.SerialNumber)
	case 5:
		if twin != nil {
			crlOf(lowest, lowestKey, twin.SerialNumber)
		}
	}
	switch s.sans {
	case 1:
		b.sans = []string{"nobody.foocorp.com", "spiffe://foocorp/client"}
	case 2:
		b.sans = []string{"nobody.foocorp.com"}
	}
	b.later = []time.Time{t0, till.Add(time.Second), t0.Add(24 * time.Hour), t0.Add(2 * time.Hour)}[s.later]
	return b
}

// compare checks b with one verifier at t0 and then at b.later (the second check may be
// answered from the verified-chain cache) against the reference; it returns whether the
// first check accepted.
func compare(t *testing.T, b built) bool {
	t.Helper()
	now := t0
	v := newVerifier("s", b.pool, b.sans, b.crls, func() time.Time { return now })
	var first bool
	for i, at := range []time.Time{t0, b.later} {
		now = at
		ours := v.verifyConnection(tls.ConnectionState{PeerCertificates: b.presented})
		ref := reference(b, at)
		if (ours == nil) != (ref == nil) {
			t.Fatalf("check %d at t0%+v: ours=%v, reference (x509.Verify + SAN + CRL)=%v", i, at.Sub(t0), ours, ref)
		}
		if i == 0 {
			first = ours == nil
		}
	}
	return first
}
