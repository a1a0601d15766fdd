package dataplane_test

import (
	"net/http"
	"slices"
	"testing"
)

// The walkthrough: each host answers its own client certificate and nothing else.
func TestMutualTLS(t *testing.T) {
	f := newFooCorp(t)
	g := startGateway(t, f.snap, f.creds)

	t.Run("right client cert reaches the backend", func(t *testing.T) {
		c := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient})
		code, e := get(t, c, "https://"+frontendHost+"/")
		if code != http.StatusOK || e.Backend != "frontend" {
			t.Fatalf("got %d from %q, want 200 from frontend", code, e.Backend)
		}
		c = g.client(t, clientConfig{SNI: inventoryHost, Roots: f.invCA.Pool, Cert: &f.invClient})
		if code, e := get(t, c, "https://"+inventoryHost+"/"); code != http.StatusOK || e.Backend != "inventory" {
			t.Fatalf("got %d from %q, want 200 from inventory", code, e.Backend)
		}
	})

	cases := []struct {
		name, reason string
		cfg          clientConfig
	}{
		{"no client cert", "no_client_cert", clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool}},
		{"other host's client cert", "bad_client_cert", clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.invClient}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := g.client(t, tc.cfg)
			resp, err := c.Get("https://" + frontendHost + "/")
			if err == nil {
				resp.Body.Close()
				t.Fatalf("request succeeded with status %d, want handshake failure", resp.StatusCode)
			}
			waitFor(t, "handshake failure "+tc.reason, func() bool { return slices.Contains(g.obs.Failures(), tc.reason) })
		})
	}
}
