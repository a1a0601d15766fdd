package feature

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/certs"
)

// A client CA change (MUTUAL) applies to new handshakes at once, and a session resumed
// from before the change (TLS 1.3 ticket, TLS 1.2 ticket) is verified against the new CA:
// a client of the old CA is refused even with a cached session. An established
// connection of an old-CA client is re-verified on its next request and refused (421).
func TestClientCAChange(t *testing.T) {
	e := newEnv(t, setup{})
	newPKI := filepath.Join(e.dir, "pki-new-ca")
	generatePKI(t, newPKI, inv)

	type resumingClient struct {
		name string
		c    *client
	}
	var old []resumingClient
	for _, v := range []struct {
		name string
		max  uint16
	}{{"TLS 1.3", tls.VersionTLS13}, {"TLS 1.2", tls.VersionTLS12}} {
		cfg := e.tlsConfig(inv, e.pki, inv)
		cfg.MaxVersion = v.max
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		c := e.newClientTLS(inv, cfg, false)
		c.mustOK(t, "/", "inventory")
		if r := c.mustOK(t, "/", "inventory"); !r.resumed {
			t.Fatalf("%s: the second connection did not resume; the test would prove nothing", v.name)
		}
		old = append(old, resumingClient{v.name, c})
	}
	established := e.newClient(inv, inv, true)
	established.mustOK(t, "/", "inventory")
	frontend := e.newClient(fe, fe, true)
	frontend.mustOK(t, "/", "frontend")

	// Same server certificate and key, client CA of the new PKI.
	d := e.secretData(inv)
	d["cacert"] = read(t, certs.PathsFor(newPKI, inv).Chain)
	e.putSecret(inv, d, renameOver)

	newClient := e.newClientTLS(inv, e.tlsConfig(inv, newPKI, inv), false)
	took := eventually(t, within, "new-CA client accepted", func() error {
		_, err := newClient.ok("/", "inventory")
		return err
	})
	t.Logf("new client CA in force after %v", took)

	for _, rc := range old {
		r, err := rc.c.get("/")
		if err == nil {
			t.Errorf("%s: old-CA client with a session from before the change: %d (resumed %v), want refused",
				rc.name, r.code, r.resumed)
		}
	}
	if _, err := e.get(inv, "/"); err == nil {
		t.Error("old-CA client without a session: served, want refused")
	}
	if r, err := established.get("/"); err != nil || r.code != http.StatusMisdirectedRequest {
		t.Errorf("established old-CA connection: %d, %v; want 421", r.code, err)
	}
	frontend.mustOK(t, "/", "frontend")
	if n := frontend.dials.Load(); n != 1 {
		t.Errorf("frontend connection dialled %d times, want 1", n)
	}

	// The new-CA client resumes its own sessions as usual.
	cfg := e.tlsConfig(inv, newPKI, inv)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	c := e.newClientTLS(inv, cfg, false)
	c.mustOK(t, "/", "inventory")
	if r := c.mustOK(t, "/", "inventory"); !r.resumed {
		t.Error("new-CA client did not resume")
	}
}
