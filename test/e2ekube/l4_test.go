package e2ekube

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// TestL4OnKubernetes: a PASSTHROUGH host and a MUTUAL host on one port, configured through
// the real API server (Gateway, VirtualService with tls[], ServiceEntry, Secret); the
// client verifies the passthrough backend's own certificate; a kubectl edit moving the
// passthrough destination leaves an established stream alone.
func TestL4OnKubernetes(t *testing.T) {
	c := needCluster(t)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	const pass, pass2, web = "db.l4.example", "db2.l4.example", "web.l4.example"
	if out, _, code := run(t, dir, portcullisBin(t), "certs", "--dir", pki, "--host", pass, "--host", pass2, "--host", web); code != 0 {
		t.Fatalf("portcullis certs: exit %d\n%s", code, out)
	}
	// The passthrough backends hold their own certificates. ServiceEntry endpoints (unlike
	// EndpointSlices) may be loopback addresses, so they run in this process.
	db := tlsEcho(t, "db", pki, pass)
	db2 := tlsEcho(t, "db2", pki, pass2)

	cleanup := func() {
		c.mustKubectl(t, "", "", "delete", "-n", "default", "gateways.networking.istio.io", "l4", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "default", "virtualservices.networking.istio.io", "l4-db", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "default", "serviceentries.networking.istio.io", "l4-db", "l4-db2", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "istio-system", "secret", "web-credential", "--ignore-not-found")
	}
	cleanup()
	t.Cleanup(func() {
		if !t.Failed() {
			cleanup()
		}
	})
	c.mustKubectl(t, pki, "", createSecretCmd(web)...)
	c.mustKubectl(t, "", l4Manifests(db, db2, "db.l4.internal"), "apply", "-f", "-")

	g := c.startGateway(t)
	dial := func(sni string) (*tls.Conn, error) {
		roots := x509.NewCertPool()
		b, err := os.ReadFile(certs.PathsFor(pki, sni).Chain)
		if err != nil {
			t.Fatal(err)
		}
		roots.AppendCertsFromPEM(b)
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp",
			fmt.Sprintf("127.0.0.1:%d", g.port), &tls.Config{ServerName: sni, RootCAs: roots})
		if conn != nil {
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		}
		return conn, err
	}
	var held *tls.Conn
	eventually(t, 20*time.Second, "passthrough to the db backend", func() error {
		conn, err := dial(pass)
		if err != nil {
			return err
		}
		held = conn
		return nil
	})
	defer held.Close()
	r := bufio.NewReader(held)
	if got := lineExchange(t, held, r, "one"); got != "db:one" {
		t.Fatalf("reply %q", got)
	}
	// The MUTUAL host on the same port is terminated by the gateway with its own credential.
	if got, want := servedSerial(t, pki, g.port, web), fileSerial(t, certs.PathsFor(pki, web).ServerCert); got != want {
		t.Fatalf("%s serial %q, want %q", web, got, want)
	}

	// Move the db SNI to the db2 backend with kubectl: new connections follow (and
	// fail verification against db's CA: db2 holds its own certificate), the held
	// stream keeps talking to db.
	c.mustKubectl(t, "", l4Manifests(db, db2, "db2.l4.internal"), "apply", "-f", "-")
	eventually(t, 20*time.Second, "db SNI moved to db2", func() error {
		conn, err := dial(pass)
		if err == nil {
			conn.Close()
			return fmt.Errorf("still the db backend")
		}
		if !strings.Contains(err.Error(), "certificate") {
			return err
		}
		return nil
	})
	if got := lineExchange(t, held, r, "two"); got != "db:two" {
		t.Fatalf("held stream after the edit: %q", got)
	}
}

func l4Manifests(db, db2 int, dest string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: l4, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: l4-pass, protocol: TLS}
    tls: {mode: PASSTHROUGH}
    hosts: [db.l4.example]
  - port: {number: 443, name: l4-web, protocol: HTTPS}
    tls: {mode: MUTUAL, credentialName: web-credential}
    hosts: [web.l4.example]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: l4-db, namespace: default}
spec:
  hosts: [db.l4.example]
  gateways: [l4]
  tls:
  - match: [{sniHosts: [db.l4.example]}]
    route: [{destination: {host: %s, port: {number: 7000}}}]
`, dest) + l4ServiceEntry("l4-db", "db.l4.internal", db) + l4ServiceEntry("l4-db2", "db2.l4.internal", db2)
}

func l4ServiceEntry(name, host string, port int) string {
	return fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 7000, name: tls, protocol: TLS, targetPort: %d}]
  endpoints: [{address: 127.0.0.1}]
`, name, host, port)
}

// tlsEcho serves "<name>:<line>" per line over TLS with host's own server certificate.
func tlsEcho(t *testing.T, name, pki, host string) int {
	t.Helper()
	p := certs.PathsFor(pki, host)
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
				r := bufio.NewReader(conn)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(conn, "%s:%s", name, l)
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func lineExchange(t *testing.T, c net.Conn, r *bufio.Reader, line string) string {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(got, "\n")
}
