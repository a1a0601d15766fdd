package dataplane_test

import (
	"crypto/tls"
	"net/http"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// subjectAltNames and CRLs narrow which chain-valid client certificates are accepted.
func TestClientCertificateChecks(t *testing.T) {
	f := newFooCorp(t)
	revoked := f.frontCA.Client(t, "revoked", "revoked.foocorp.com")
	noSAN := f.frontCA.Client(t, "other", "other.foocorp.com")
	cred := testpki.Credential(f.frontCA.Server(t, frontendHost), f.frontCA)
	cred.CRLs = append(cred.CRLs, f.frontCA.CRL(t, revoked.Leaf))
	f.creds.Set(credKey(frontendCred), cred)
	sans := []string{"spiffe://foocorp.com/ns/ux/sa/client", "revoked.foocorp.com"}
	f.snap.Listeners[0].Servers[0].TLS.SubjectAltNames = sans
	g := startGateway(t, f.snap, f.creds)

	cases := []struct {
		name string
		use  *tls.Certificate
		ok   bool
	}{
		{name: "allowed URI SAN", use: &f.frontClient, ok: true},
		{name: "no allowed SAN", use: &noSAN},
		{name: "revoked", use: &revoked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(g.obs.Failures())
			c := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: tc.use})
			resp, err := c.Get("https://" + frontendHost + "/")
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tc.ok && (err != nil || resp.StatusCode != http.StatusOK):
				t.Fatalf("rejected: %v", err)
			case !tc.ok && err == nil:
				t.Fatalf("accepted with status %d", resp.StatusCode)
			case !tc.ok:
				waitFor(t, "bad_client_cert", func() bool {
					return slices.Contains(g.obs.Failures()[before:], "bad_client_cert")
				})
			}
		})
	}
}

// OPTIONAL_MUTUAL: a certificate is not required, but one that is presented is verified
// like MUTUAL's, and only then forwarded.
func TestOptionalMutual(t *testing.T) {
	f := newFooCorp(t)
	f.snap.Listeners[0].Servers[1].TLS.Mode = snapshot.TLSOptionalMutual // inventory
	g := startGateway(t, f.snap, f.creds)

	c := g.client(t, clientConfig{SNI: inventoryHost, Roots: f.invCA.Pool, Cert: &f.invClient})
	code, e := get(t, c, "https://"+inventoryHost+"/")
	if code != http.StatusOK || len(e.Header.Values("X-Forwarded-Client-Cert")) != 1 {
		t.Fatalf("own certificate: got %d, XFCC %q", code, e.Header.Values("X-Forwarded-Client-Cert"))
	}

	before := len(g.obs.Failures())
	c = g.client(t, clientConfig{SNI: inventoryHost, Roots: f.invCA.Pool, Cert: &f.frontClient})
	if resp, err := c.Get("https://" + inventoryHost + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("certificate of another CA accepted: %d", resp.StatusCode)
	}
	waitFor(t, "bad_client_cert", func() bool {
		return slices.Contains(g.obs.Failures()[before:], "bad_client_cert")
	})
}
