package feature

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A secret missing at start fails only its host: the gateway becomes ready and serves the
// other host. With --require-credentials it is ready only once every credential loads.
func TestSecretMissingAtStart(t *testing.T) {
	t.Run("default: ready, other host served", func(t *testing.T) {
		e := newEnv(t, setup{withhold: []string{inv}})
		e.newClient(fe, fe, false).mustOK(t, "/", "frontend")
		if _, err := e.get(inv, "/"); err == nil {
			t.Fatal("inventory served without its secret")
		}
		e.publishSecret(inv, renameOver)
		e.servesSerial(inv, e.serverSerial(inv))
	})
	t.Run("require-credentials: ready only when loaded", func(t *testing.T) {
		e := newEnv(t, setup{withhold: []string{inv}, require: true})
		eventually(t, within, "not ready, naming the missing credential", func() error {
			code, body := e.adminGet("/healthz/ready")
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "inventory-credential") {
				return fmt.Errorf("%d %s", code, body)
			}
			return nil
		})
		// Not ready is about load balancing: the other host is served all the same.
		e.newClient(fe, fe, false).mustOK(t, "/", "frontend")
		e.publishSecret(inv, renameOver)
		e.waitReady(within)
		e.servesSerial(inv, e.serverSerial(inv))
	})
}
