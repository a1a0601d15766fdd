package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/demo"
)

const (
	frontendBody  = demo.FrontendBody
	inventoryBody = demo.InventoryBody
)

// backend starts an HTTP server on 127.0.0.1 answering body, and returns its port and a stop func.
func backend(t *testing.T, body string) (int, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-XFCC", r.Header.Get("X-Forwarded-Client-Cert"))
		fmt.Fprintln(w, body)
	})}
	go srv.Serve(ln)
	stop := func() { srv.Close() }
	t.Cleanup(stop)
	return ln.Addr().(*net.TCPAddr).Port, stop
}

// walkthroughEnv is the FooCorp setup: PKI, config dir, backends and a running gateway.
type walkthroughEnv struct {
	dir, pki, config string
	port             int
	gw               *gateway
	stopInventory    func()
}

func setupWalkthrough(t *testing.T, extraArgs ...string) *walkthroughEnv {
	t.Helper()
	fp, _ := backend(t, frontendBody)
	return setupWalkthroughWith(t, fp, extraArgs...)
}

// setupWalkthroughWith is setupWalkthrough with the frontend service served by whatever
// listens on frontendPort (a test's own backend).
func setupWalkthroughWith(t *testing.T, frontendPort int, extraArgs ...string) *walkthroughEnv {
	t.Helper()
	e := &walkthroughEnv{dir: t.TempDir()}
	e.pki = filepath.Join(e.dir, "pki")
	e.config = filepath.Join(e.dir, "foocorp")
	if err := os.MkdirAll(e.config, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "certs", "--dir", e.pki, "--host", "frontend.foocorp.com",
		"--host", "inventory.foocorp.com", "--secrets-out", e.config); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	for _, f := range []string{"gateway.yaml", "virtualservices.yaml"} {
		b, err := os.ReadFile(repoFile("internal", "demo", "manifests", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.config, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ip, stopInv := backend(t, inventoryBody)
	e.stopInventory = stopInv
	if err := os.WriteFile(filepath.Join(e.config, "backends.yaml"), []byte(demo.ServiceEntries(frontendPort, ip)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.port = freePort(t)
	args := append([]string{"--config", e.config, "--port-map", "443=127.0.0.1:" + strconv.Itoa(e.port)}, extraArgs...)
	e.gw = startGateway(t, args...)
	return e
}

// curl runs curl exactly as the walkthrough does, from the PKI directory. sni is the name
// in the URL and --resolve; host the Host header; certHost whose client cert to present
// ("" for none). Extra args go before the URL. Returns stdout, stderr and exit code.
func (e *walkthroughEnv) curl(t *testing.T, sni, host, certHost, path string, extra ...string) (string, string, int) {
	t.Helper()
	p := strconv.Itoa(e.port)
	args := []string{"-sS", "-HHost:" + host,
		"--resolve", sni + ":" + p + ":127.0.0.1",
		"--cacert", sni + "/2_intermediate/certs/ca-chain.cert.pem"}
	if certHost != "" {
		args = append(args,
			"--cert", certHost+"/4_client/certs/"+certHost+".cert.pem",
			"--key", certHost+"/4_client/private/"+certHost+".key.pem")
	}
	args = append(args, extra...)
	args = append(args, "https://"+sni+":"+p+path)
	return sh(t, e.pki, "curl", args...)
}

func TestWalkthrough(t *testing.T) {
	e := setupWalkthrough(t)
	const fe, inv = "frontend.foocorp.com", "inventory.foocorp.com"

	t.Run("frontend with frontend client cert", func(t *testing.T) {
		out, errOut, code := e.curl(t, fe, fe, fe, "/")
		if code != 0 || strings.TrimSpace(out) != frontendBody {
			t.Fatalf("curl exit %d, body %q, stderr %s", code, out, errOut)
		}
	})
	t.Run("inventory with inventory client cert", func(t *testing.T) {
		out, errOut, code := e.curl(t, inv, inv, inv, "/")
		if code != 0 || strings.TrimSpace(out) != inventoryBody {
			t.Fatalf("curl exit %d, body %q, stderr %s", code, out, errOut)
		}
	})
	t.Run("no client cert fails the handshake", func(t *testing.T) {
		out, _, code := e.curl(t, inv, inv, "", "/")
		if code == 0 || strings.Contains(out, "Inventory") {
			t.Fatalf("want handshake failure, got exit %d body %q", code, out)
		}
	})
	t.Run("frontend client cert against inventory fails", func(t *testing.T) {
		out, _, code := e.curl(t, inv, inv, fe, "/")
		if code == 0 || strings.Contains(out, "Inventory") {
			t.Fatalf("want handshake failure, got exit %d body %q", code, out)
		}
	})
	t.Run("SNI frontend with Host inventory is 421", func(t *testing.T) {
		out, errOut, code := e.curl(t, fe, inv, fe, "/", "-o", "/dev/null", "-w", "%{http_code}")
		if code != 0 || out != "421" {
			t.Fatalf("want 421, got exit %d out %q stderr %s", code, out, errOut)
		}
	})
	t.Run("unknown SNI fails the handshake", func(t *testing.T) {
		out, errOut, code := sh(t, e.pki, "openssl", "s_client", "-connect", "127.0.0.1:"+strconv.Itoa(e.port),
			"-servername", "unknown.foocorp.com", "-brief")
		all := out + errOut
		if code == 0 || !strings.Contains(strings.ToLower(all), "unrecognized name") {
			t.Fatalf("want unrecognized_name alert, got exit %d:\n%s", code, all)
		}
	})
	t.Run("server chain verifies with openssl", func(t *testing.T) {
		out, errOut, _ := sh(t, e.pki, "openssl", "s_client", "-connect", "127.0.0.1:"+strconv.Itoa(e.port),
			"-servername", fe, "-showcerts", "-CAfile", fe+"/2_intermediate/certs/ca-chain.cert.pem",
			"-cert", fe+"/4_client/certs/"+fe+".cert.pem", "-key", fe+"/4_client/private/"+fe+".key.pem")
		if n := strings.Count(out, "-----BEGIN CERTIFICATE-----"); n < 2 {
			t.Fatalf("want leaf + intermediate served, got %d certs:\n%s%s", n, out, errOut)
		}
		if !strings.Contains(out, "Verify return code: 0 (ok)") {
			t.Fatalf("chain did not verify:\n%s%s", out, errOut)
		}
	})
	t.Run("other path is 404", func(t *testing.T) {
		out, errOut, code := e.curl(t, fe, fe, fe, "/other", "-o", "/dev/null", "-w", "%{http_code}")
		if code != 0 || out != "404" {
			t.Fatalf("want 404, got exit %d out %q stderr %s", code, out, errOut)
		}
	})
	t.Run("client-supplied XFCC is replaced", func(t *testing.T) {
		out, errOut, code := e.curl(t, fe, fe, fe, "/", "-D", "-", "-o", "/dev/null",
			"-H", "X-Forwarded-Client-Cert: By=spoofed;Hash=deadbeef")
		if code != 0 || strings.Contains(out, "spoofed") || !strings.Contains(out, "Hash=") {
			t.Fatalf("XFCC not replaced: exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("backend down is 503", func(t *testing.T) {
		e.stopInventory()
		out, errOut, code := e.curl(t, inv, inv, inv, "/", "-o", "/dev/null", "-w", "%{http_code}")
		if code != 0 || out != "503" {
			t.Fatalf("want 503, got exit %d out %q stderr %s", code, out, errOut)
		}
	})
	t.Run("SIGTERM exits 0", func(t *testing.T) {
		if err := e.gw.stop(t); err != nil {
			t.Fatalf("gateway exit: %v\n%s", err, e.gw.logs.String())
		}
	})
}
