package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// The harness of l4_test.go. Layer 4 at the gateway (issue 13): TLS passthrough by SNI next to a MUTUAL HTTPS host and
// a TLS-terminated TCP host on one port, plain TCP with weights, half-close, idle timeout,
// live changes that leave unrelated streams alone, and the SNI boundary.

const (
	l4Pass  = "db.example.com"   // PASSTHROUGH: the backend holds its own certificate
	l4Pass2 = "kv.example.com"   // PASSTHROUGH host added live
	l4MTLS  = "web.example.com"  // HTTPS MUTUAL, HTTP routes
	l4TCPS  = "tcps.example.com" // protocol TLS, mode MUTUAL: terminated, then tcp[] routes
	l4Body  = "web backend"
)

// echoBackend is a line-oriented TCP (or TLS) server: it answers each line with
// "<name>:<line>", and when the client half-closes, "<name>:bye <n>" (n bytes received)
// before closing. Opened counts the connections it accepted.
type echoBackend struct {
	name string
	port int
	mu   sync.Mutex
	n    int
}

func startEcho(t *testing.T, name string, cfg *tls.Config) *echoBackend {
	t.Helper()
	var ln net.Listener
	var err error
	if cfg != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	b := &echoBackend{name: name, port: ln.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.n++
			b.mu.Unlock()
			go b.serve(c)
		}
	}()
	return b
}

func (b *echoBackend) opened() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *echoBackend) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	total := 0
	for {
		line, err := r.ReadString('\n')
		total += len(line)
		if line != "" {
			if _, werr := fmt.Fprintf(c, "%s:%s", b.name, line); werr != nil {
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				fmt.Fprintf(c, "%s:bye %d\n", b.name, total)
			}
			return
		}
	}
}

type l4Env struct {
	dir, pki, config string
	tlsPort, tcpPort int
	idlePort         int
	gw               *gateway
	db, kv, a, b, ts *echoBackend
}

func serviceEntry(name, host string, port int) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 7000, name: tcp, protocol: TCP, targetPort: %d}
  endpoints:
  - address: 127.0.0.1
---
`, name, host, port)
}

const l4Gateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: l4, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: passthrough, protocol: TLS}
    tls: {mode: PASSTHROUGH}
    hosts: [db.example.com, kv.example.com]
  - port: {number: 443, name: web, protocol: HTTPS}
    tls: {mode: MUTUAL, credentialName: web-credential}
    hosts: [web.example.com]
  - port: {number: 443, name: tcps, protocol: TLS}
    tls: {mode: MUTUAL, credentialName: tcps-credential}
    hosts: [tcps.example.com]
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 9001, name: mongo, protocol: MONGO}
    hosts: ["*"]
`

func l4VirtualServices(dbHost string, withKV bool) string {
	s := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: [db.example.com]
  gateways: [l4]
  tls:
  - match: [{sniHosts: [db.example.com]}]
    route: [{destination: {host: %s, port: {number: 7000}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.example.com]
  gateways: [l4]
  http:
  - route: [{destination: {host: web.backend.internal, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcps, namespace: default}
spec:
  hosts: [tcps.example.com]
  gateways: [l4]
  tcp:
  - match: [{port: 443}]
    route: [{destination: {host: ts.backend.internal, port: {number: 7000}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp, namespace: default}
spec:
  hosts: ["*"]
  gateways: [l4]
  tcp:
  - match: [{port: 9000}]
    route:
    - {destination: {host: a.backend.internal, port: {number: 7000}}, weight: 80}
    - {destination: {host: b.backend.internal, port: {number: 7000}}, weight: 20}
  - match: [{port: 9001}]
    route: [{destination: {host: idle.backend.internal, port: {number: 7000}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: idle, namespace: default}
spec:
  host: idle.backend.internal
  trafficPolicy:
    connectionPool:
      tcp: {idleTimeout: 0.6s, connectTimeout: 2s}
---
`, dbHost)
	if withKV {
		s += `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: kv, namespace: default}
spec:
  hosts: [kv.example.com]
  gateways: [l4]
  tls:
  - match: [{sniHosts: [kv.example.com]}]
    route: [{destination: {host: kv.backend.internal, port: {number: 7000}}}]
`
	}
	return s
}

func setupL4(t *testing.T) *l4Env {
	t.Helper()
	e := &l4Env{dir: t.TempDir()}
	e.pki = filepath.Join(e.dir, "pki")
	e.config = filepath.Join(e.dir, "config")
	if err := os.MkdirAll(e.config, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "certs", "--dir", e.pki, "--host", l4Pass, "--host", l4Pass2, "--host", l4MTLS,
		"--host", l4TCPS, "--secrets-out", e.config); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	e.db = startEcho(t, "db", backendTLS(t, e.pki, l4Pass))
	e.kv = startEcho(t, "kv", backendTLS(t, e.pki, l4Pass2))
	e.a = startEcho(t, "a", nil)
	e.b = startEcho(t, "b", nil)
	e.ts = startEcho(t, "ts", nil)
	idle := startEcho(t, "idle", nil)
	webPort, _ := backend(t, l4Body)
	ses := serviceEntry("db", "db.backend.internal", e.db.port) +
		serviceEntry("kv", "kv.backend.internal", e.kv.port) +
		serviceEntry("a", "a.backend.internal", e.a.port) +
		serviceEntry("b", "b.backend.internal", e.b.port) +
		serviceEntry("ts", "ts.backend.internal", e.ts.port) +
		serviceEntry("idle", "idle.backend.internal", idle.port) +
		strings.Replace(strings.Replace(serviceEntry("web", "web.backend.internal", webPort),
			"number: 7000, name: tcp, protocol: TCP", "number: 80, name: http, protocol: HTTP", 1), "---\n", "", 1)
	writeFile(t, filepath.Join(e.config, "backends.yaml"), ses)
	writeFile(t, filepath.Join(e.config, "gateway.yaml"), l4Gateway)
	writeFile(t, filepath.Join(e.config, "vs.yaml"), l4VirtualServices("db.backend.internal", false))
	// The only finding: MONGO is proxied as plain TCP.
	if out, _ := run(t, "validate", "--config", e.config); strings.Count(strings.TrimSpace(out), "\n") != 0 ||
		!strings.Contains(out, "protocol MONGO is proxied as plain TCP") {
		t.Fatalf("portcullis validate:\n%s", out)
	}
	e.tlsPort, e.tcpPort, e.idlePort = freePort(t), freePort(t), freePort(t)
	e.gw = startGateway(t, "--config", e.config, "--read-header-timeout", "1s",
		"--port-map", "443=127.0.0.1:"+strconv.Itoa(e.tlsPort),
		"--port-map", "9000=127.0.0.1:"+strconv.Itoa(e.tcpPort),
		"--port-map", "9001=127.0.0.1:"+strconv.Itoa(e.idlePort))
	return e
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// backendTLS is the TLS config of a backend holding host's own server certificate.
func backendTLS(t *testing.T, pki, host string) *tls.Config {
	t.Helper()
	p := certs.PathsFor(pki, host)
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// roots is host's CA chain, to verify its server certificate.
func roots(t *testing.T, pki, host string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(certs.PathsFor(pki, host).Chain)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	return pool
}

// tlsDial connects through the gateway's TLS port with SNI sni.
func (e *l4Env) tlsDial(t *testing.T, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", "127.0.0.1:"+strconv.Itoa(e.tlsPort), cfg)
	if c != nil {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	return c, err
}

// mustRefuse: a connection with cfg fails its handshake or (TLS 1.3, where the client
// learns of a rejected certificate only afterwards) its first exchange.
func (e *l4Env) mustRefuse(t *testing.T, cfg *tls.Config, what string) {
	t.Helper()
	c, err := e.tlsDial(t, cfg)
	if err != nil {
		return
	}
	defer c.Close()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+cfg.ServerName+"\r\n\r\n")
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatalf("%s: served", what)
	}
}

// dialTCP connects to a gateway port on loopback.
func dialTCP(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exchange writes line and reads one line back.
func exchange(t *testing.T, c net.Conn, r *bufio.Reader, line string) string {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatalf("write %q: %v", line, err)
	}
	got, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read reply to %q: %v (got %q)", line, err, got)
	}
	return strings.TrimSuffix(got, "\n")
}

// fragmenter splits the first TLS record written (the ClientHello) into records of size
// bytes of handshake payload, each in its own write.
type fragmenter struct {
	net.Conn
	size    int
	done    bool
	records int
}

func (f *fragmenter) Write(p []byte) (int, error) {
	if f.done || len(p) < 5 || p[0] != 22 {
		return f.Conn.Write(p)
	}
	f.done = true
	body := p[5:]
	for len(body) > 0 {
		n := min(f.size, len(body))
		rec := append([]byte{22, p[1], p[2], byte(n >> 8), byte(n)}, body[:n]...)
		if _, err := f.Conn.Write(rec); err != nil {
			return 0, err
		}
		f.records++
		body = body[n:]
	}
	return len(p), nil
}

func httpsClient(port int, cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		},
	}}
}

func httpsGet(t *testing.T, port int, cfg *tls.Config, host string) (string, int) {
	t.Helper()
	resp, err := httpsClient(port, cfg).Get("https://" + host + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// shIn runs a tool with stdin.
func shIn(t *testing.T, dir, stdin, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = &slowEOF{r: strings.NewReader(stdin)}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return stdout.String(), stderr.String(), code
}

// slowEOF returns r's bytes, then EOF only after a second (so a tool reads its reply
// before stdin's end makes it quit).
type slowEOF struct {
	r    io.Reader
	done bool
}

func (s *slowEOF) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF && !s.done {
		s.done = true
		time.Sleep(time.Second)
	}
	return n, err
}
