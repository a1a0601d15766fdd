package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"

	"github.com/portcullis/portcullis/internal/certs"
)

// PROXY protocol (design 0029): upstream headers from DestinationRule
// trafficPolicy.proxyProtocol (V1, V2, V2 with TLS TLVs) on plain TCP, TLS-terminated TCP
// and passthrough streams, read by backends with go-proxyproto; and downstream headers
// accepted from a trusted load balancer only.

const (
	ppPass = "pp-pass.example.com" // PASSTHROUGH, backend reads a V2 header then terminates TLS
	ppTCPS = "pp-tcps.example.com" // TLS MUTUAL terminated, then a V2 header with TLS TLVs
	ppWeb  = "web.pp.test"         // plain HTTP, for the downstream header's effects
	// ppLB is the trusted load balancer's address (--proxy-protocol-from); tests dial
	// from 127.0.0.1 as a direct client.
	ppLB = "127.0.0.3"
)

// ppSeen is what a backend learned from the PROXY header of one connection.
type ppSeen struct {
	Version   int    `json:"version"`
	Command   string `json:"command"`
	Src, Dst  string
	Authority string `json:"authority"`
	SSL       bool   `json:"ssl"`
	Verified  bool   `json:"verified"`
	CertConn  bool   `json:"certConn"`
	CN        string `json:"cn"`
	TLS       string `json:"tls"`
	Cipher    string `json:"cipher"`
}

// startPPBackend accepts connections, parses their PROXY header with go-proxyproto,
// (with cfg) terminates TLS, then sends one JSON line of what the header said and echoes
// lines as echoBackend does.
func startPPBackend(t *testing.T, name string, cfg *tls.Config) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	b := &echoBackend{name: name}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				pc := proxyproto.NewConn(c, proxyproto.SetReadHeaderTimeout(5*time.Second))
				var s ppSeen
				if h := pc.ProxyHeader(); h != nil {
					s = describe(h)
				}
				var conn net.Conn = pc
				if cfg != nil {
					tc := tls.Server(pc, cfg)
					if tc.Handshake() != nil {
						c.Close()
						return
					}
					conn = tc
				}
				line, _ := json.Marshal(s)
				if _, err := fmt.Fprintf(conn, "%s\n", line); err != nil {
					c.Close()
					return
				}
				b.serve(conn)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func describe(h *proxyproto.Header) ppSeen {
	s := ppSeen{Version: int(h.Version), Command: "LOCAL"}
	if h.Command == proxyproto.PROXY {
		s.Command = "PROXY"
	}
	if h.SourceAddr != nil {
		s.Src, s.Dst = h.SourceAddr.String(), h.DestinationAddr.String()
	}
	tlvs, _ := h.TLVs()
	for _, v := range tlvs {
		if v.Type == proxyproto.PP2_TYPE_AUTHORITY {
			s.Authority = string(v.Value)
		}
	}
	if ssl, ok := tlvparse.FindSSL(tlvs); ok {
		s.SSL, s.Verified, s.CertConn = ssl.ClientSSL(), ssl.Verified(), ssl.ClientCertConn()
		s.CN, _ = ssl.ClientCN()
		s.TLS, _ = ssl.SSLVersion()
		s.Cipher, _ = ssl.SSLCipher()
	}
	return s
}

type ppCtxKey struct{}

type ppEnv struct {
	pki, logPath          string
	admin                 string
	tlsPort, tcpPort, web int
	origPort              int
}

func setupPP(t *testing.T) *ppEnv {
	t.Helper()
	dir := t.TempDir()
	e := &ppEnv{pki: filepath.Join(dir, "pki"), logPath: filepath.Join(dir, "access.log")}
	config := filepath.Join(dir, "config")
	if err := os.MkdirAll(config, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "certs", "--dir", e.pki, "--host", ppPass, "--host", ppTCPS, "--secrets-out", config); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	pass := startPPBackend(t, "pass", backendTLS(t, e.pki, ppPass))
	tcps := startPPBackend(t, "tcps", nil)
	v1 := startPPBackend(t, "v1", nil)
	// Terminates the gateway's TLS origination after reading the header.
	orig := startPPBackend(t, "orig", backendTLS(t, e.pki, ppPass))
	// The HTTP backend requires a PROXY header (its cluster sends V2: a LOCAL header on
	// the gateway's pooled connections) and reports it with X-Forwarded-For.
	web := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "xff=%s pp=%s\n", r.Header.Get("X-Forwarded-For"), r.Context().Value(ppCtxKey{}))
	}), ReadHeaderTimeout: 5 * time.Second, ConnContext: func(ctx context.Context, c net.Conn) context.Context {
		h := c.(*proxyproto.Conn).ProxyHeader()
		return context.WithValue(ctx, ppCtxKey{}, fmt.Sprintf("v%d/%v", h.Version, h.Command == proxyproto.LOCAL))
	}}
	wln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go web.Serve(&proxyproto.Listener{Listener: wln, ReadHeaderTimeout: 5 * time.Second})
	t.Cleanup(func() { web.Close() })
	http80 := func(s string) string {
		return strings.Replace(s, "number: 7000, name: tcp, protocol: TCP", "number: 80, name: http, protocol: HTTP", 1)
	}
	writeFile(t, filepath.Join(config, "backends.yaml"), serviceEntry("pass", "pass.backend.internal", pass)+
		serviceEntry("tcps", "tcps.backend.internal", tcps)+serviceEntry("v1", "v1.backend.internal", v1)+
		serviceEntry("orig", "orig.backend.internal", orig)+
		http80(serviceEntry("web", "web.backend.internal", wln.Addr().(*net.TCPAddr).Port)))
	writeFile(t, filepath.Join(config, "gateway.yaml"), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: pp, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: passthrough, protocol: TLS}
    tls: {mode: PASSTHROUGH}
    hosts: [`+ppPass+`]
  - port: {number: 443, name: tcps, protocol: TLS}
    tls: {mode: MUTUAL, credentialName: pp-tcps-credential}
    hosts: [`+ppTCPS+`]
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 9001, name: tcp-orig, protocol: TCP}
    hosts: ["*"]
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: [`+ppWeb+`]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pp, namespace: default}
spec:
  hosts: ["*"]
  gateways: [pp]
  tls:
  - match: [{sniHosts: [`+ppPass+`]}]
    route: [{destination: {host: pass.backend.internal, port: {number: 7000}}}]
  tcp:
  - match: [{port: 443}]
    route: [{destination: {host: tcps.backend.internal, port: {number: 7000}}}]
  - match: [{port: 9000}]
    route: [{destination: {host: v1.backend.internal, port: {number: 7000}}}]
  - match: [{port: 9001}]
    route: [{destination: {host: orig.backend.internal, port: {number: 7000}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [`+ppWeb+`]
  gateways: [pp]
  http:
  - route: [{destination: {host: web.backend.internal, port: {number: 80}}}]
---
`+ppRule("pass", "{version: V2}", true)+ppRule("tcps", "{version: V2}", true)+ppRule("v1", "{}", false)+
		ppRule("web", "{version: V2}", false)+
		ppRule("orig", "{}, tls: {mode: SIMPLE, caCertificates: "+certs.PathsFor(e.pki, ppPass).Chain+", sni: "+ppPass+"}", false)+
		`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: istio-system}
spec:
  action: DENY
  rules:
  - from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]
    to: [{operation: {paths: [/deny]}}]
`)
	if out, err := run(t, "validate", "--config", config); err != nil {
		t.Fatalf("portcullis validate: %v\n%s", err, out)
	}
	e.tlsPort, e.tcpPort, e.web, e.origPort = freePort(t), freePort(t), freePort(t), freePort(t)
	e.admin = startGateway(t, "--config", config, "--read-header-timeout", "2s",
		"--proxy-protocol-from", ppLB+"/32", "--proxy-protocol-timeout", "1s",
		"--access-log", e.logPath, "--access-log-format", "json",
		"--port-map", "443=127.0.0.1:"+strconv.Itoa(e.tlsPort),
		"--port-map", "9000=127.0.0.1:"+strconv.Itoa(e.tcpPort),
		"--port-map", "9001=127.0.0.1:"+strconv.Itoa(e.origPort),
		"--port-map", "8080=127.0.0.1:"+strconv.Itoa(e.web)).admin
	return e
}

// ppRule is a DestinationRule setting proxyProtocol pp (and what follows it in the
// trafficPolicy) for <name>.backend.internal, with the TLS TLVs when tlvs.
func ppRule(name, pp string, tlvs bool) string {
	ann := ""
	if tlvs {
		ann = ", annotations: {portcullis.io/proxy-protocol-tlvs: tls}"
	}
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %s, namespace: default%s}
spec:
  host: %s.backend.internal
  trafficPolicy: {proxyProtocol: %s}
---
`, name, ann, name, pp)
}

// dialFrom connects to a gateway port from local address from ("": the default).
func dialFrom(t *testing.T, from string, port int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// seen reads the backend's JSON line, then checks one echo.
func seen(t *testing.T, c net.Conn, backend string) ppSeen {
	t.Helper()
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read the backend's report: %v (%q)", err, line)
	}
	var s ppSeen
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if got := exchange(t, c, r, "ping"); got != backend+":ping" {
		t.Fatalf("echo %q", got)
	}
	return s
}

// lbHeader is a load balancer's PROXY header for client 203.0.113.9:4242.
func lbHeader(t *testing.T, version byte, port int) []byte {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(version, &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 4242},
		&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: port})
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProxyProtocol(t *testing.T) {
	e := setupPP(t)
	gwTCP := "127.0.0.1:" + strconv.Itoa(e.tcpPort)

	t.Run("V1 on plain TCP carries the client and the gateway", func(t *testing.T) {
		c := dialFrom(t, "", e.tcpPort)
		defer c.Close()
		s := seen(t, c, "v1")
		if s.Version != 1 || s.Command != "PROXY" || s.Src != c.LocalAddr().String() || s.Dst != gwTCP {
			t.Fatalf("backend saw %+v; client %s, gateway %s", s, c.LocalAddr(), gwTCP)
		}
	})

	t.Run("V1 before the gateway's TLS origination", func(t *testing.T) {
		c := dialFrom(t, "", e.origPort)
		defer c.Close()
		if s := seen(t, c, "orig"); s.Version != 1 || s.Src != c.LocalAddr().String() {
			t.Fatalf("backend saw %+v", s)
		}
	})

	t.Run("V2 TLS TLVs through MUTUAL TLS-terminated TCP", func(t *testing.T) {
		cfg, err := certs.ClientTLS(e.pki, ppTCPS)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(e.tlsPort), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		s := seen(t, c, "tcps")
		cn := cfg.Certificates[0].Leaf.Subject.CommonName
		if s.Version != 2 || s.Src != c.LocalAddr().String() || s.Authority != ppTCPS || !s.SSL || !s.Verified ||
			!s.CertConn || s.CN != cn || s.TLS != "TLSv1.3" || s.Cipher == "" {
			t.Fatalf("backend saw %+v; want client %s, CN %q, TLSv1.3", s, c.LocalAddr(), cn)
		}
		t.Logf("backend learned: %+v", s)
	})

	t.Run("V2 on passthrough: header before the client's own TLS", func(t *testing.T) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(e.tlsPort),
			&tls.Config{ServerName: ppPass, RootCAs: roots(t, e.pki, ppPass)})
		if err != nil {
			t.Fatalf("handshake with the backend through passthrough: %v", err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		s := seen(t, c, "pass")
		if s.Version != 2 || s.Src != c.LocalAddr().String() || s.Authority != ppPass || s.SSL {
			t.Fatalf("backend saw %+v: want the SNI and no SSL TLV (the gateway did not terminate)", s)
		}
	})

	t.Run("downstream header from the trusted balancer feeds the upstream one", func(t *testing.T) {
		for _, v := range []byte{1, 2} {
			c := dialFrom(t, ppLB, e.tcpPort)
			if _, err := c.Write(lbHeader(t, v, 9000)); err != nil {
				t.Fatal(err)
			}
			s := seen(t, c, "v1")
			c.Close()
			if s.Src != "203.0.113.9:4242" || s.Dst != "192.0.2.1:9000" {
				t.Fatalf("downstream v%d: backend saw %+v", v, s)
			}
		}
		// Passthrough: the SNI is read after the balancer's header.
		raw := dialFrom(t, ppLB, e.tlsPort)
		defer raw.Close()
		if _, err := raw.Write(lbHeader(t, 2, 443)); err != nil {
			t.Fatal(err)
		}
		c := tls.Client(raw, &tls.Config{ServerName: ppPass, RootCAs: roots(t, e.pki, ppPass)})
		if s := seen(t, c, "pass"); s.Src != "203.0.113.9:4242" || s.Dst != "192.0.2.1:443" || s.Authority != ppPass {
			t.Fatalf("passthrough behind the balancer: backend saw %+v", s)
		}
	})

	t.Run("an untrusted peer cannot forge its address", func(t *testing.T) {
		c := dialFrom(t, "", e.tcpPort)
		defer c.Close()
		forged := lbHeader(t, 1, 9000)
		if _, err := c.Write(forged); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		line, _ := r.ReadString('\n')
		var s ppSeen
		_ = json.Unmarshal([]byte(line), &s)
		if s.Src != c.LocalAddr().String() {
			t.Fatalf("backend saw %+v, want the real peer %s", s, c.LocalAddr())
		}
		// The forged line is stream data: echoed back, never interpreted.
		if got, _ := r.ReadString('\n'); got != "v1:"+string(forged) {
			t.Fatalf("echo %q", got)
		}
	})

	t.Run("trusted peer without a header is closed", func(t *testing.T) {
		c := dialFrom(t, ppLB, e.tcpPort)
		defer c.Close()
		start := time.Now()
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("read %d bytes, %v; want the gateway to close after --proxy-protocol-timeout", n, err)
		}
		if d := time.Since(start); d < 500*time.Millisecond || d > 8*time.Second {
			t.Fatalf("closed after %v, want about 1s", d)
		}
		c2 := dialFrom(t, ppLB, e.web)
		defer c2.Close()
		_, _ = io.WriteString(c2, "GET / HTTP/1.1\r\nHost: "+ppWeb+"\r\n\r\n")
		// Closed (FIN, or RST for the unread request) without a byte of answer.
		if b, err := io.ReadAll(c2); len(b) != 0 || (err != nil && !strings.Contains(err.Error(), "reset")) {
			t.Fatalf("a request without the header got %q, %v; want the connection closed", b, err)
		}
		_, m := httpGet(t, "http://"+e.admin+"/metrics")
		for _, want := range []string{
			`portcullis_downstream_proxy_protocol_refused_total{reason="timeout"} 1`,
			`portcullis_downstream_proxy_protocol_refused_total{reason="not_proxy"} 1`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	t.Run("HTTP: X-Forwarded-For, remoteIpBlocks and the access log see the client", func(t *testing.T) {
		get := func(from, path string, header []byte) (int, string) {
			c := dialFrom(t, from, e.web)
			defer c.Close()
			_, _ = c.Write(header)
			_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+ppWeb+"\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("%s %s: %v", from, path, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, strings.TrimSpace(string(b))
		}
		if code, body := get(ppLB, "/xff", lbHeader(t, 2, 8080)); code != 200 || body != "xff=203.0.113.9 pp=v2/true" {
			t.Fatalf("through the balancer: %d %q", code, body)
		}
		if code, _ := get(ppLB, "/deny", lbHeader(t, 1, 8080)); code != 403 {
			t.Fatalf("remoteIpBlocks 203.0.113.0/24 through the balancer: %d, want 403", code)
		}
		if code, body := get("", "/deny", nil); code != 200 || body != "xff=127.0.0.1 pp=v2/true" {
			t.Fatalf("direct client: %d %q", code, body)
		}
		eventually(t, 5*time.Second, "access log line", func() error {
			b, _ := os.ReadFile(e.logPath)
			for _, l := range strings.Split(string(b), "\n") {
				var en map[string]any
				if json.Unmarshal([]byte(l), &en) == nil && en["path"] == "/xff" {
					if en["downstream_remote_address"] != "203.0.113.9:4242" || en["downstream_local_address"] != "192.0.2.1:8080" {
						return fmt.Errorf("access log: %s", l)
					}
					return nil
				}
			}
			return fmt.Errorf("no /xff line in %q", b)
		})
	})
}
