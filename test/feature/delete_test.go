package feature

import (
	"net/http"
	"testing"
	"time"
)

// Deleting a secret is how operators revoke it: its host stops completing handshakes
// within a second (fail closed) while the other host is unaffected; recreating it serves
// it again.
func TestSecretDeleted(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    setup
	}{
		{"Secret manifest removed", setup{}},
		{"credentials-dir secret directory removed", setup{credentialsDir: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.s)
			feKA := e.newClient(fe, fe, true)
			feKA.mustOK(t, "/", "frontend")
			invKA := e.newClient(inv, inv, true)
			invKA.mustOK(t, "/", "inventory")
			load := startLoad(t, 2*time.Millisecond,
				worker(e.newClient(fe, fe, false), "/", "frontend"),
				worker(feKA, "/", "frontend"))

			e.deleteSecret(inv)
			took := e.handshakeFails(inv)
			t.Logf("inventory handshakes fail %v after the delete", took)
			e.logged("removal", "credential removed", "name=inventory-credential")
			st, err := e.certs("istio-system/inventory-credential")
			if err != nil || st.Serving || st.LastError == "" {
				t.Errorf("/certs after delete: %+v, %v; want not serving, with an error", st, err)
			}

			// Revocation reaches established connections too: their next request is refused.
			if r, err := invKA.get("/"); err != nil || r.code != http.StatusMisdirectedRequest {
				t.Errorf("established inventory connection after delete: %d %q, %v; want 421", r.code, r.body, err)
			}

			serial := e.rotateServer(inv, renameOver) // recreate (with a new certificate)
			took = e.servesSerial(inv, serial)
			t.Logf("inventory served again %v after the recreate", took)
			if n := feKA.dials.Load(); n != 1 {
				t.Errorf("frontend keep-alive client dialled %d times, want 1", n)
			}
			load.finish(t)
		})
	}
}
