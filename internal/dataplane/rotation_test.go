package dataplane_test

import (
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
)

// Rotating a server certificate takes effect on the next handshake without a restart,
// while established keep-alive connections keep working.
func TestCredentialRotation(t *testing.T) {
	f := newFooCorp(t)
	g := startGateway(t, f.snap, f.creds)
	serial := func(c *http.Client) string {
		t.Helper()
		resp, err := c.Get("https://" + frontendHost + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body) // so the connection goes back to the pool
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	cfg := clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient}
	kept := g.client(t, cfg)
	before := serial(kept)

	f.creds.Set(credKey(frontendCred), testpki.Credential(f.frontCA.Server(t, frontendHost), f.frontCA))
	g.dp.CredentialsChanged()

	if got := serial(kept); got != before {
		t.Fatalf("keep-alive connection saw serial %s, want the old %s (same connection)", got, before)
	}
	after := serial(g.client(t, cfg))
	if after == before {
		t.Fatalf("new handshake still got serial %s", before)
	}

	t.Run("missing credential fails closed for its server only", func(t *testing.T) {
		f.creds.mu.Lock()
		delete(f.creds.m, credKey(frontendCred))
		f.creds.mu.Unlock()
		g.dp.CredentialsChanged()
		if resp, err := g.client(t, cfg).Get("https://" + frontendHost + "/"); err == nil {
			resp.Body.Close()
			t.Fatal("frontend handshake succeeded without a credential")
		}
		waitFor(t, "no_credential failure", func() bool { return slices.Contains(g.obs.Failures(), "no_credential") })
		inv := g.client(t, clientConfig{SNI: inventoryHost, Roots: f.invCA.Pool, Cert: &f.invClient})
		if code, _ := get(t, inv, "https://"+inventoryHost+"/"); code != http.StatusOK {
			t.Fatalf("inventory got %d, want 200", code)
		}
	})
}

// A client-auth policy change applies to new handshakes at once and re-verifies the
// client certificate of each established connection on its next request: still trusted →
// served on the same connection; revoked or CA removed → 421 (and no new handshake).
func TestClientCARotation(t *testing.T) {
	f := newFooCorp(t)
	g := startGateway(t, f.snap, f.creds)
	other := f.frontCA.Client(t, "other", "other.foocorp.com")
	keptA := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient})
	keptB := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &other})
	var dialsA int
	tr := keptA.Transport.(*http.Transport)
	tr.DialContext = countingDial(tr.DialContext, &dialsA)
	expect := func(c *http.Client, want int, what string) {
		t.Helper()
		if code, _ := get(t, c, "https://"+frontendHost+"/"); code != want {
			t.Fatalf("%s: got %d, want %d", what, code, want)
		}
	}
	expect(keptA, 200, "before")
	expect(keptB, 200, "before")
	server := f.frontCA.Server(t, frontendHost)
	newCA := testpki.NewCA(t, "new frontend ca")

	f.creds.Set(credKey(frontendCred), testpki.Credential(server, f.frontCA, newCA))
	g.dp.CredentialsChanged()
	expect(keptA, 200, "CA bundle grew, old client still trusted")
	if dialsA != 1 {
		t.Fatalf("client reconnected (%d dials); the connection should have been kept", dialsA)
	}

	revoking := testpki.Credential(server, f.frontCA, newCA)
	revoking.CRLs = append(revoking.CRLs, f.frontCA.CRL(t, f.frontClient.Leaf))
	revoking.Version += "-crl"
	f.creds.Set(credKey(frontendCred), revoking)
	g.dp.CredentialsChanged()
	expect(keptA, http.StatusMisdirectedRequest, "client revoked on an established connection")
	expect(keptB, 200, "other client unaffected by the CRL")

	f.creds.Set(credKey(frontendCred), testpki.Credential(server, newCA))
	g.dp.CredentialsChanged()
	expect(keptB, http.StatusMisdirectedRequest, "old CA removed")
	cfg := clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &other}
	if resp, err := g.client(t, cfg).Get("https://" + frontendHost + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("client of the removed CA completed a new handshake")
	}
	newClient := newCA.Client(t, frontendHost, frontendHost)
	cfg.Cert = &newClient
	expect(g.client(t, cfg), 200, "client of the new CA")
}
