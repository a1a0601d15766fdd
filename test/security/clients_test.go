package security

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// roots trusts the CA chains of every host.
func (e *env) roots() *x509.CertPool {
	e.t.Helper()
	p := x509.NewCertPool()
	for _, h := range allHosts {
		if !p.AppendCertsFromPEM(read(e.t, certs.PathsFor(e.pki, h).Chain)) {
			e.t.Fatalf("bad CA chain of %s", h)
		}
	}
	return p
}

// clientCert is the walkthrough client certificate issued by host's CA.
func (e *env) clientCert(host string) tls.Certificate {
	e.t.Helper()
	p := certs.PathsFor(e.pki, host)
	c, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// tlsConfig is a client config with SNI sni presenting certHost's client certificate
// ("" none) whenever asked, speaking HTTP/1.1 only unless protos says otherwise.
func (e *env) tlsConfig(sni, certHost string, protos ...string) *tls.Config {
	c := &tls.Config{ServerName: sni, RootCAs: e.roots(), NextProtos: []string{"http/1.1"}}
	if len(protos) > 0 {
		c.NextProtos = protos
	}
	if certHost != "" {
		// Always presented, even to a server whose CertificateRequest names other CAs
		// (crypto/tls's client would otherwise send none, and prove nothing).
		cert := e.clientCert(certHost)
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return c
}

// dial opens a TLS connection to port 443 and completes the handshake.
func (e *env) dial(cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", e.addr(), cfg)
	if err != nil {
		return nil, err
	}
	// TLS 1.3: a rejected client certificate is only reported on the first read.
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, nil
}

// rawConn is one hostile HTTP/1.1 connection: the test writes bytes and reads responses.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// open opens a TLS connection with SNI sni presenting certHost's client certificate.
func (e *env) open(t testing.TB, sni, certHost string) *rawConn {
	t.Helper()
	c, err := e.dial(e.tlsConfig(sni, certHost))
	if err != nil {
		t.Fatalf("handshake with SNI %q: %v", sni, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes raw bytes ("\n" is NOT translated: tests spell out "\r\n").
func (rc *rawConn) send(raw string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, raw); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// response reads one response (to a request of method GET unless given) and its body.
func (rc *rawConn) response() (*http.Response, string, error) {
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// do sends raw and reads one response; it fails the test when none comes.
func (rc *rawConn) do(raw string) (*http.Response, string) {
	rc.t.Helper()
	rc.send(raw)
	resp, body, err := rc.response()
	if err != nil {
		rc.t.Fatalf("reading response: %v", err)
	}
	return resp, body
}

// closed reports whether the server closed the connection (EOF or reset) within d.
func (rc *rawConn) closed(d time.Duration) error {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	_, err := rc.br.ReadByte()
	for err == nil {
		_, err = rc.br.ReadByte()
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return err
	}
	return nil
}

// get builds a minimal HTTP/1.1 GET with the given extra header lines.
func get(path, host string, headers ...string) string {
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// echoed decodes what the echo backend reported; ok is false when the response did not
// come from a backend.
func echoed(resp *http.Response, body string) (seen, bool) {
	var s seen
	if resp.Header.Get("X-Echo-Backend") == "" {
		return s, false
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		return s, false
	}
	return s, true
}

// mustEcho wants a 200 from backend and returns what it saw.
func mustEcho(t testing.TB, resp *http.Response, body, backend string) seen {
	t.Helper()
	s, ok := echoed(resp, body)
	if resp.StatusCode != http.StatusOK || !ok || s.Backend != backend {
		t.Fatalf("got %d from backend %q (%.200q), want 200 from %q", resp.StatusCode, s.Backend, body, backend)
	}
	return s
}

// mustStatus wants code and no backend behind the answer.
func mustStatus(t testing.TB, resp *http.Response, body string, code int) {
	t.Helper()
	if s, ok := echoed(resp, body); ok {
		t.Fatalf("reached backend %q (%d), want %d from the gateway", s.Backend, resp.StatusCode, code)
	}
	if resp.StatusCode != code {
		t.Fatalf("status %d (%.200q), want %d", resp.StatusCode, body, code)
	}
}
