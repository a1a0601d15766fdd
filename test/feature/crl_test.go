package feature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/testkit"
)

// A CRL in a MUTUAL host's Secret (key "crl") revokes client certificates: a new CRL
// listing a client's serial refuses that client's new and resumed handshakes within a
// second and its established connection on its next request (421), while another
// client of the same CA keeps being served. An invalid CRL update (garbage, or signed by
// an unrelated CA) is rejected: the last good CRL stays in force and /certs shows the
// error. Removing the CRL accepts the revoked client again.
func TestClientCRL(t *testing.T) {
	const name = "istio-system/inventory-credential"
	e := newEnv(t, setup{})
	inter, interKey := loadIntermediate(t, e.pki, inv)
	revokedSerial := serialNumber(t, certs.PathsFor(e.pki, inv).ClientCert)

	// The Secret carries a CRL of the client CA's intermediate that lists someone else.
	withCRL := func(crl []byte) map[string][]byte {
		d := e.secretData(inv)
		if crl != nil {
			d["crl"] = crl
		}
		return d
	}
	before, err := e.certs(name)
	if err != nil {
		t.Fatal(err)
	}
	e.putSecret(inv, withCRL(signCRL(t, inter, interKey, 1, big.NewInt(424242))), renameOver)
	current := waitVersionChange(e, name, before.Version)

	// (a) Not listed: served, on new, resumed and established connections.
	ka := e.newClient(inv, inv, true)
	ka.mustOK(t, "/", "inventory")
	resCfg := e.tlsConfig(inv, e.pki, inv)
	resCfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	resuming := e.newClientTLS(inv, resCfg, false)
	resuming.mustOK(t, "/", "inventory")
	if r := resuming.mustOK(t, "/", "inventory"); !r.resumed {
		t.Fatal("the second connection did not resume; the resumption check would prove nothing")
	}
	otherCfg := e.tlsConfig(inv, e.pki, "")
	otherCfg.Certificates = []tls.Certificate{issueClient(t, inter, interKey, "other client")}
	other := e.newClientTLS(inv, otherCfg, false)
	other.mustOK(t, "/", "inventory")
	feKA := e.newClient(fe, fe, true)
	feKA.mustOK(t, "/", "frontend")

	// (b) A new CRL lists the client's serial.
	e.putSecret(inv, withCRL(signCRL(t, inter, interKey, 2, big.NewInt(424242), revokedSerial)), renameOver)
	took := e.handshakeFails(inv)
	t.Logf("revoked client refused %v after the CRL update", took)
	current = waitVersionChange(e, name, current)
	if r, err := resuming.get("/"); err == nil {
		t.Errorf("revoked client with a session from before the CRL: %d (resumed %v), want refused", r.code, r.resumed)
	}
	if r, err := ka.get("/"); err != nil || r.code != http.StatusMisdirectedRequest {
		t.Errorf("established connection of the revoked client: %d %q, %v; want 421", r.code, r.body, err)
	}
	other.mustOK(t, "/", "inventory")
	feKA.mustOK(t, "/", "frontend")

	// (c) Invalid CRL updates are rejected; the revoking CRL stays in force.
	unrelated, unrelatedKey := newCA(t, "unrelated CA")
	for _, tc := range []struct {
		name, want string
		crl        []byte
	}{
		{"garbage", "does not parse", []byte("-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n")},
		{"signed by an unrelated CA", "not signed by any certificate of the CA bundle", signCRL(t, unrelated, unrelatedKey, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.putSecret(inv, withCRL(tc.crl), renameOver)
			eventually(t, within, "/certs reports the bad CRL", func() error {
				st, err := e.certs(name)
				if err != nil {
					return err
				}
				if !st.Serving || st.Version != current || !containsAll(st.LastError, []string{`key "crl"`, tc.want}) {
					return fmt.Errorf("serving %v version %s (last good %s) lastError %q", st.Serving, st.Version, current, st.LastError)
				}
				return nil
			})
			for range 3 {
				if r, err := e.get(inv, "/"); err == nil {
					t.Fatalf("revoked client served (%d) after an invalid CRL update; want the last good CRL in force", r.code)
				}
				other.mustOK(t, "/", "inventory")
			}
		})
	}

	// (d) The CRL is removed: the revoked client is accepted again.
	e.putSecret(inv, withCRL(nil), renameOver)
	took = eventually(t, within, "formerly revoked client accepted", func() error {
		r, err := e.get(inv, "/")
		if err == nil && r.code != http.StatusOK {
			err = fmt.Errorf("%d %q", r.code, r.body)
		}
		return err
	})
	t.Logf("CRL removal in force after %v", took)
	st, err := e.certs(name)
	if err != nil || st.LastError != "" {
		t.Errorf("/certs after the CRL removal: %+v, %v; want no error", st, err)
	}
	e.newClient(inv, inv, true).mustOK(t, "/", "inventory")
	other.mustOK(t, "/", "inventory")
	if n := feKA.dials.Load(); n != 1 {
		t.Errorf("frontend keep-alive client dialled %d times, want 1", n)
	}
}

// A CRL of the root revoking the intermediate CA refuses every client that intermediate
// issued, whether the CA bundle holds only the root or, as in the walkthrough, the
// intermediate and the root (then x509.Verify ends the chain at the intermediate, which
// must still be checked against the root's CRL); established connections get 421.
func TestClientCRLRevokesIntermediate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rootOnly bool
	}{{"CA bundle: root", true}, {"CA bundle: intermediate and root", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, setup{})
			p := certs.PathsFor(e.pki, inv)
			root, err := tls.LoadX509KeyPair(p.RootCert, p.RootKey)
			if err != nil {
				t.Fatal(err)
			}
			d := e.secretData(inv)
			if tc.rootOnly {
				d["cacert"] = read(t, p.RootCert)
				e.putSecret(inv, d, renameOver)
				e.servesSerial(inv, e.serverSerial(inv)) // the client still verifies against the root
			}
			ka := e.newClient(inv, inv, true)
			ka.mustOK(t, "/", "inventory")
			d["crl"] = signCRL(t, root.Leaf, root.PrivateKey.(crypto.Signer), 1, serialNumber(t, p.IntermediateCert))
			e.putSecret(inv, d, renameOver)
			e.handshakeFails(inv)
			if r, err := ka.get("/"); err != nil || r.code != http.StatusMisdirectedRequest {
				t.Errorf("established connection of a client of the revoked intermediate: %d %q, %v; want 421", r.code, r.body, err)
			}
			e.newClient(fe, fe, false).mustOK(t, "/", "frontend")
		})
	}
}

// waitVersionChange polls /certs until credential name serves a version other than old,
// without an error, and returns it.
func waitVersionChange(e *env, name, old string) string {
	e.t.Helper()
	var v string
	eventually(e.t, within, name+" new version served", func() error {
		st, err := e.certs(name)
		if err != nil {
			return err
		}
		if !st.Serving || st.Version == old || st.LastError != "" {
			return fmt.Errorf("serving %v version %s lastError %q", st.Serving, st.Version, st.LastError)
		}
		v = st.Version
		return nil
	})
	return v
}

// loadIntermediate reads host's intermediate CA certificate and key from a certs PKI.
func loadIntermediate(t testing.TB, pki, host string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	p := certs.PathsFor(pki, host)
	pair, err := tls.LoadX509KeyPair(p.IntermediateCert, p.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf, pair.PrivateKey.(crypto.Signer)
}

func serialNumber(t testing.TB, certPath string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(serialOf(t, certPath), 16)
	if !ok {
		t.Fatal("bad serial")
	}
	return n
}

// newCA makes a self-signed CA in memory.
func newCA(t testing.TB, cn string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// issueClient issues a client certificate (new key and serial) from issuer.
func issueClient(t testing.TB, issuer *x509.Certificate, issuerKey crypto.Signer, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, issuer.Raw}, PrivateKey: key}
}

// signCRL returns a PEM CRL number n of issuer revoking serials.
func signCRL(t testing.TB, issuer *x509.Certificate, key crypto.Signer, n int64, serials ...*big.Int) []byte {
	t.Helper()
	return testkit.SignCRL(t, issuer, key, n, serials...)
}
