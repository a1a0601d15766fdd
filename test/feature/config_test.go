package feature

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Configuration changes (route, host, server added or removed) apply atomically within a
// second, without failing a request on what did not change and without closing the
// established connections of servers that stay.
func TestConfigChange(t *testing.T) {
	invRoutes := func(routes ...string) string {
		return virtualService("frontend", fe, route("/", "frontend")) + "---\n" +
			virtualService("inventory", inv, routes...)
	}

	t.Run("route added, then changed", func(t *testing.T) {
		e := newEnv(t, setup{})
		ka := e.newClient(inv, inv, true)
		ka.mustOK(t, "/", "inventory")
		load := startLoad(t, 2*time.Millisecond,
			worker(e.newClient(inv, inv, false), "/items", "inventory"),
			worker(e.newClient(fe, fe, true), "/", "frontend"))

		e.write("virtualservices.yaml", invRoutes(route("/v2", "inventory-v2"), route("/", "inventory")))
		took := eventually(t, within, "route /v2 added", func() error { _, err := ka.ok("/v2/items", "inventory-v2"); return err })
		t.Logf("route added after %v", took)
		load.finish(t)

		e.write("virtualservices.yaml", invRoutes(route("/", "inventory-v2")))
		took = eventually(t, within, "route / changed", func() error { _, err := ka.ok("/items", "inventory-v2"); return err })
		t.Logf("route changed after %v", took)
		if n := ka.dials.Load(); n != 1 {
			t.Errorf("keep-alive client dialled %d times, want 1", n)
		}
	})

	t.Run("host added", func(t *testing.T) {
		const shop = "shop.foocorp.com"
		e := newEnv(t, setup{})
		generatePKI(t, e.pki, shop)
		e.publishSecret(shop, renameOver)
		load := startLoad(t, 2*time.Millisecond,
			worker(e.newClient(inv, inv, true), "/", "inventory"),
			worker(e.newClient(fe, fe, false), "/", "frontend"))
		e.write("gateway.yaml", gatewayYAML(serverMutual("https-frontend", fe), serverMutual("https-inventory", inv),
			serverMutual("https-shop", shop)))
		e.write("shop.yaml", virtualService("shop", shop, route("/", "frontend")))
		took := eventually(t, within, "shop served", func() error { _, err := e.newClient(shop, shop, false).ok("/", "frontend"); return err })
		t.Logf("host added after %v", took)
		load.finish(t)
	})

	t.Run("server removed and added on a shared port", func(t *testing.T) {
		e := newEnv(t, setup{})
		ka := e.newClient(inv, inv, true)
		ka.mustOK(t, "/", "inventory")
		load := startLoad(t, 2*time.Millisecond, worker(ka, "/", "inventory"),
			worker(e.newClient(inv, inv, false), "/", "inventory"))

		feKA := e.newClient(fe, fe, true)
		feKA.mustOK(t, "/", "frontend")
		e.write("gateway.yaml", gatewayYAML(serverMutual("https-inventory", inv)))
		took := e.handshakeFails(fe)
		t.Logf("frontend server removed after %v", took)
		// The removed server's established connections are refused, not served by it.
		if r, err := feKA.get("/"); err != nil || r.code != http.StatusMisdirectedRequest {
			t.Errorf("established connection of the removed server: %d %q, %v; want 421", r.code, r.body, err)
		}
		e.write("gateway.yaml", gatewayYAML(serverMutual("https-frontend", fe), serverMutual("https-inventory", inv)))
		took = eventually(t, within, "frontend back", func() error { _, err := e.newClient(fe, fe, false).ok("/", "frontend"); return err })
		t.Logf("frontend server added after %v", took)

		load.finish(t)
		if n := ka.dials.Load(); n != 1 {
			t.Errorf("established inventory connection was closed: %d dials, want 1", n)
		}
	})

	t.Run("port removed: its listener drains gracefully", func(t *testing.T) {
		e := newEnv(t, setup{httpPort: true})
		slow := newBlockingBackend(t)
		e.ports["slow"] = slow.port
		e.write("backends.yaml", e.serviceEntries())
		e.write("plain.yaml", virtualService("plain", "plain.foocorp.com", route("/", "slow")))
		withPlain := gatewayYAML(serverMutual("https-frontend", fe), serverMutual("https-inventory", inv),
			serverHTTP("http-plain", "plain.foocorp.com"))
		e.write("gateway.yaml", withPlain)
		var addr string
		eventually(t, within, "port 8080 serving", func() error {
			a := e.gw.Addr(8080)
			if a == nil {
				return fmt.Errorf("not listening")
			}
			addr = a.String()
			_, err := plainGet(addr, "/fast")
			return err
		})
		ka := e.newClient(inv, inv, true)
		ka.mustOK(t, "/", "inventory")

		inflight := make(chan error, 1)
		go func() {
			body, err := plainGet(addr, "/block")
			if err == nil && body != "slow /block" {
				err = fmt.Errorf("body %q", body)
			}
			inflight <- err
		}()
		<-slow.arrived
		e.write("gateway.yaml", gatewayYAML(serverMutual("https-frontend", fe), serverMutual("https-inventory", inv)))
		took := eventually(t, within, "port 8080 closed to new connections", func() error {
			if _, err := plainGet(addr, "/fast"); err == nil {
				return fmt.Errorf("still accepting")
			}
			return nil
		})
		t.Logf("listener stopped accepting after %v", took)
		close(slow.release)
		if err := <-inflight; err != nil {
			t.Errorf("in-flight request on the removed port: %v", err)
		}
		ka.mustOK(t, "/", "inventory")
		if n := ka.dials.Load(); n != 1 {
			t.Errorf("port 443 connection was closed: %d dials", n)
		}
	})
}

// blockingBackend answers "slow PATH"; /block waits for release.
type blockingBackend struct {
	port    int
	arrived chan struct{}
	release chan struct{}
}

func newBlockingBackend(t testing.TB) *blockingBackend {
	b := &blockingBackend{arrived: make(chan struct{}, 1), release: make(chan struct{})}
	b.port = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			b.arrived <- struct{}{}
			select {
			case <-b.release:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "slow %s", r.URL.Path)
	}))
	return b
}

// plainGet requests http://plain.foocorp.com/path on addr over a new connection.
func plainGet(addr, path string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	req.Host = "plain.foocorp.com"
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var buf [256]byte
	n, _ := resp.Body.Read(buf[:])
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%d %s", resp.StatusCode, buf[:n])
	}
	return string(buf[:n]), nil
}
