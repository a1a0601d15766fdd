//go:build linux

package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// The binary with --l4-accept (the default, design 0036), and with it off: a port whose servers are all PASSTHROUGH is
// accepted by the L4 event loop. Driven as a user would: passthrough to a backend holding
// its own certificate, an unknown SNI refused, and then a MUTUAL HTTPS server added to the
// same port by editing the config while a passthrough stream runs. The new host must be
// served (the loop hands such connections to the Go path), with its client CA enforced,
// and the running stream must carry on.

// l4AcceptGateway: the L4 harness's Gateway cut to its PASSTHROUGH server, and (withWeb)
// its MUTUAL HTTPS server on the same port.
func l4AcceptGateway(withWeb bool) string {
	next := "  - port: {number: 443, name: web,"
	if withWeb {
		next = "  - port: {number: 443, name: tcps,"
	}
	g, _, found := strings.Cut(l4Gateway, next)
	if !found {
		panic("l4Gateway has no server " + next)
	}
	return g
}

// l4AcceptRoutes: the db (tls[]) and web (http[]) VirtualServices of the L4 harness.
func l4AcceptRoutes() string {
	docs := strings.SplitAfter(l4VirtualServices("db.backend.internal", false), "---\n")
	return docs[0] + docs[1]
}

func TestL4AcceptBinaryAddsTerminatedServerLive(t *testing.T) {
	for _, loop := range []bool{true, false} {
		t.Run(fmt.Sprintf("l4-accept=%v", loop), func(t *testing.T) { l4AcceptAddsTerminatedServer(t, loop) })
	}
}

// l4AcceptAddsTerminatedServer: the same with the loop accepting or (false) Go's listener.
func l4AcceptAddsTerminatedServer(t *testing.T, loop bool) {
	dir := t.TempDir()
	pki, config := filepath.Join(dir, "pki"), filepath.Join(dir, "config")
	if out, err := run(t, "certs", "--dir", pki, "--host", l4Pass, "--host", l4MTLS, "--secrets-out", config); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	db := startEcho(t, "db", backendTLS(t, pki, l4Pass))
	webPort, _ := backend(t, l4Body)
	writeFile(t, filepath.Join(config, "backends.yaml"), serviceEntry("db", "db.backend.internal", db.port)+
		strings.Replace(serviceEntry("web", "web.backend.internal", webPort),
			"number: 7000, name: tcp, protocol: TCP", "number: 80, name: http, protocol: HTTP", 1))
	writeFile(t, filepath.Join(config, "gateway.yaml"), l4AcceptGateway(false))
	writeFile(t, filepath.Join(config, "vs.yaml"), l4AcceptRoutes())
	port := freePort(t)
	e := &l4Env{pki: pki, config: config, tlsPort: port}
	e.gw = startGateway(t, "--config", config, "--l4-accept="+strconv.FormatBool(loop), "--read-header-timeout", "1s",
		"--port-map", "443=127.0.0.1:"+strconv.Itoa(port))

	if loop {
		eventually(t, 5*time.Second, "the port accepted by the event loop", func() error {
			if !strings.Contains(e.gw.logs.String(), "listener accepts in the L4 event loop") {
				return fmt.Errorf("not in the logs")
			}
			return nil
		})
	}
	// Passthrough: the client verifies the backend's own certificate.
	dbCfg := &tls.Config{ServerName: l4Pass, RootCAs: roots(t, pki, l4Pass)}
	held, err := e.tlsDial(t, dbCfg)
	if err != nil {
		t.Fatalf("passthrough handshake: %v", err)
	}
	defer held.Close()
	_ = held.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(held)
	if got := exchange(t, held, r, "one"); got != "db:one" {
		t.Fatalf("passthrough: %q", got)
	}
	// The web host does not exist yet: its SNI is refused.
	webCfg := func(withCert bool) *tls.Config {
		p := certs.PathsFor(pki, l4MTLS)
		c := &tls.Config{ServerName: l4MTLS, RootCAs: roots(t, pki, l4MTLS)}
		if withCert {
			cert, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
			if err != nil {
				t.Fatal(err)
			}
			c.Certificates = []tls.Certificate{cert}
		}
		return c
	}
	e.mustRefuse(t, webCfg(true), "web before it is configured")

	// Add a MUTUAL HTTPS server on the same port, as an operator edits the Gateway.
	writeFile(t, filepath.Join(config, "gateway.yaml"), l4AcceptGateway(true))
	p := certs.PathsFor(pki, l4MTLS)
	hp := strconv.Itoa(port)
	eventually(t, 10*time.Second, "web served after the edit", func() error {
		out, errOut, code := sh(t, pki, "curl", "-sS", "--max-time", "5", "--resolve", l4MTLS+":"+hp+":127.0.0.1",
			"--cacert", p.Chain, "--cert", p.ClientCert, "--key", p.ClientKey, "https://"+l4MTLS+":"+hp+"/")
		if code != 0 || strings.TrimSpace(out) != l4Body {
			return fmt.Errorf("curl exit %d: %q %s", code, out, errOut)
		}
		return nil
	})
	// Its client CA is enforced on the loop-accepted port too.
	e.mustRefuse(t, webCfg(false), "web without a client certificate")
	// The stream opened before the change carries on.
	if got := exchange(t, held, r, "two"); got != "db:two" {
		t.Fatalf("passthrough stream after the change: %q", got)
	}
	// And new passthrough connections still work beside the terminated host.
	c, err := e.tlsDial(t, dbCfg)
	if err != nil {
		t.Fatalf("passthrough after the change: %v", err)
	}
	defer c.Close()
	if got := exchange(t, c, bufio.NewReader(c), "three"); got != "db:three" {
		t.Fatalf("passthrough after the change: %q", got)
	}
	if !loop && strings.Contains(e.gw.logs.String(), "L4 event loop") {
		t.Fatal("--l4-accept=false: the event loop accepted")
	}
	if db.opened() != 2 {
		t.Fatalf("db backend saw %d connections, want 2", db.opened())
	}
}
