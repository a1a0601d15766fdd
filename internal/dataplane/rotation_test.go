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

// A CA change applies to new handshakes at once; a keep-alive connection authenticated
// under the old CA gets 421 and must reconnect under the new policy.
func TestClientCARotation(t *testing.T) {
	f := newFooCorp(t)
	g := startGateway(t, f.snap, f.creds)
	cfg := clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient}
	kept := g.client(t, cfg)
	if code, _ := get(t, kept, "https://"+frontendHost+"/"); code != http.StatusOK {
		t.Fatalf("got %d", code)
	}
	newCA := testpki.NewCA(t, "new frontend ca")
	f.creds.Set(credKey(frontendCred), testpki.Credential(f.frontCA.Server(t, frontendHost), newCA))
	g.dp.CredentialsChanged()

	if code, _ := get(t, kept, "https://"+frontendHost+"/"); code != http.StatusMisdirectedRequest {
		t.Fatalf("old connection got %d, want 421", code)
	}
	if resp, err := g.client(t, cfg).Get("https://" + frontendHost + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("client of the old CA completed a new handshake")
	}
	newClient := newCA.Client(t, frontendHost, frontendHost)
	c := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &newClient})
	if code, _ := get(t, c, "https://"+frontendHost+"/"); code != http.StatusOK {
		t.Fatalf("client of the new CA got %d", code)
	}
}
