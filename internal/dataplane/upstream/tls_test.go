package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// fakeCreds is a ClientCredentials whose content the test changes.
type fakeCreds struct {
	mu sync.Mutex
	m  map[string]ClientCredential
}

func (f *fakeCreds) ClientCredential(key string) (ClientCredential, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[key]
	return c, ok
}

func (f *fakeCreds) set(key string, c *ClientCredential) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c == nil {
		delete(f.m, key)
		return
	}
	f.m[key] = *c
}

// tlsCounter is a TLSObserver.
type tlsCounter struct {
	mu            sync.Mutex
	full, resumed int
	failures      map[string]int // reason -> count
}

func (o *tlsCounter) UpstreamTLSHandshake(_ string, resumed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if resumed {
		o.resumed++
	} else {
		o.full++
	}
}

func (o *tlsCounter) UpstreamTLSFailure(_, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failures == nil {
		o.failures = map[string]int{}
	}
	o.failures[reason]++
}

// tlsUpstream is an HTTPS backend with a certificate of ca for backend.test, answering
// "sni=<SNI> client=<CN>"; clientCA non-nil requires a client certificate of it. It
// counts the connections it accepted.
func tlsUpstream(t *testing.T, ca *testpki.CA, clientCA *testpki.CA) (string, *atomic.Int32) {
	t.Helper()
	return tlsUpstreamProto(t, ca, clientCA, false)
}

// tlsUpstreamProto is tlsUpstream, also offering HTTP/2 (ALPN h2) when h2; a request
// that came over HTTP/2 gets " h2" appended to its answer.
func tlsUpstreamProto(t *testing.T, ca *testpki.CA, clientCA *testpki.CA, h2 bool) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := "-"
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "sni=%s client=%s body=%s", r.TLS.ServerName, cn, body)
		if r.ProtoMajor == 2 {
			_, _ = io.WriteString(w, " h2")
		}
	}))
	s.EnableHTTP2 = h2
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "backend.test")}}
	if clientCA != nil {
		s.TLS.ClientAuth, s.TLS.ClientCAs = tls.RequireAndVerifyClientCert, clientCA.Pool
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Config.ErrorLog = nil
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.Listener.Addr().String(), &n
}

// tlsClusters builds runtime clusters from specs, sharing one TLSEnv.
func tlsClusters(creds ClientCredentials, obs TLSObserver, specs ...snapshot.Cluster) *Clusters {
	cs := NewClusters(specs)
	cs.UseTLS(NewTLSEnv(creds, obs))
	return cs
}

// forward sends a request for host through p to the cluster's endpoint.
func forward(t *testing.T, p *Proxy, c *Cluster, ep, method, host, path, body string) (int, string) {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://"+host+path, rb)
	w := httptest.NewRecorder()
	p.Forward(w, r, &Target{Endpoint: ep, Cluster: c})
	return w.Code, w.Body.String()
}

// TestUpstreamTLSVerification runs Envoy's verification outcomes over HTTP/1.1 and over
// HTTP/2 (ALPN h2): both transports must send the same SNI and check the same names.
func TestUpstreamTLSVerification(t *testing.T) {
	for _, proto := range []snapshot.UpstreamProtocol{snapshot.UpstreamHTTP1, snapshot.UpstreamHTTP2} {
		name := map[snapshot.UpstreamProtocol]string{snapshot.UpstreamHTTP1: "http1", snapshot.UpstreamHTTP2: "h2"}[proto]
		t.Run(name, func(t *testing.T) { upstreamTLSVerification(t, proto) })
	}
}

func upstreamTLSVerification(t *testing.T, proto snapshot.UpstreamProtocol) {
	ca, other := testpki.NewCA(t, "upstream CA"), testpki.NewCA(t, "other CA")
	ep, _ := tlsUpstreamProto(t, ca, nil, proto == snapshot.UpstreamHTTP2)
	leaf, _ := x509.ParseCertificate(mustServerLeaf(t, ep))
	caRef := &snapshot.CredentialRef{Secret: "ns/ca", Client: true, CAOnly: true, NeedCA: true}
	otherRef := &snapshot.CredentialRef{Secret: "ns/other", Client: true, CAOnly: true, NeedCA: true}
	crlRef := &snapshot.CredentialRef{Secret: "ns/crl", Client: true, CAOnly: true, NeedCA: true}
	creds := &fakeCreds{m: map[string]ClientCredential{
		caRef.Key():    {RootCAs: ca.Pool, Version: "1"},
		otherRef.Key(): {RootCAs: other.Pool, Version: "1"},
		crlRef.Key():   {RootCAs: ca.Pool, CRLs: []*x509.RevocationList{ca.CRL(t, leaf)}, Version: "1"},
	}}
	mk := func(name string, tl snapshot.UpstreamTLS) snapshot.Cluster {
		tl.Mode = "SIMPLE"
		return snapshot.Cluster{Name: name, TLS: &tl, Protocol: proto}
	}
	obs := &tlsCounter{}
	cs := tlsClusters(creds, obs,
		mk("sans", snapshot.UpstreamTLS{Credential: caRef, SNI: "backend.test", SubjectAltNames: []string{"backend.test"}}),
		mk("badsan", snapshot.UpstreamTLS{Credential: caRef, SNI: "backend.test", SubjectAltNames: []string{"x.test"}}),
		mk("sni-only", snapshot.UpstreamTLS{Credential: caRef, SNI: "elsewhere.test"}),
		mk("auto", snapshot.UpstreamTLS{Credential: caRef}),
		mk("wrongca", snapshot.UpstreamTLS{Credential: otherRef, SNI: "backend.test"}),
		mk("revoked", snapshot.UpstreamTLS{Credential: crlRef, SNI: "backend.test"}),
		mk("insecure", snapshot.UpstreamTLS{InsecureSkipVerify: true}),
	)
	p := NewProxy(Options{}, nil)
	t.Cleanup(p.CloseIdleConnections)
	for _, tc := range []struct {
		cluster, host string
		code          int
		body, reason  string
	}{
		{"sans", "app.example", 200, "sni=backend.test client=- body=", ""},
		{"badsan", "app.example", 503, "", TLSSANMismatch},
		// An explicit sni without SANs verifies the chain only, as Envoy.
		{"sni-only", "app.example", 200, "sni=elsewhere.test client=- body=", ""},
		// Auto SNI and SAN: the Host is sent and must be in the certificate.
		{"auto", "backend.test", 200, "sni=backend.test client=- body=", ""},
		{"auto", "app.example", 503, "", TLSSANMismatch},
		{"wrongca", "app.example", 503, "", TLSVerifyFailed},
		{"revoked", "app.example", 503, "", TLSRevoked},
		{"insecure", "app.example", 200, "sni=app.example client=- body=", ""},
	} {
		obs.failures = nil
		if tc.body != "" && proto == snapshot.UpstreamHTTP2 {
			tc.body += " h2"
		}
		code, body := forward(t, p, cs.Get(tc.cluster), ep, "GET", tc.host, "/", "")
		if code != tc.code || (tc.body != "" && body != tc.body) {
			t.Errorf("%s (Host %s): %d %q, want %d %q", tc.cluster, tc.host, code, body, tc.code, tc.body)
		}
		if tc.reason != "" && obs.failures[tc.reason] == 0 {
			t.Errorf("%s: failures %v, want reason %s", tc.cluster, obs.failures, tc.reason)
		}
	}
}

// mustServerLeaf returns the DER of the certificate the server at addr presents.
func mustServerLeaf(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reading the cert
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

// TestUpstreamTLSPoolIsolation: a TLS cluster's pooled connection is never used by a
// plaintext cluster (or another TLS identity) to the same endpoint, on the lean path or
// the fallback; requests with a body use TLS too.
func TestUpstreamTLSPoolIsolation(t *testing.T) {
	ca := testpki.NewCA(t, "upstream CA")
	ep, conns := tlsUpstream(t, ca, nil)
	ref := &snapshot.CredentialRef{Secret: "ns/ca", Client: true, CAOnly: true, NeedCA: true}
	creds := &fakeCreds{m: map[string]ClientCredential{ref.Key(): {RootCAs: ca.Pool, Version: "1"}}}
	tl := &snapshot.UpstreamTLS{Mode: "SIMPLE", Credential: ref, SNI: "backend.test"}
	cs := tlsClusters(creds, nil,
		snapshot.Cluster{Name: "tls-a", TLS: tl}, snapshot.Cluster{Name: "tls-b", TLS: tl}, snapshot.Cluster{Name: "plain"})
	p := NewProxy(Options{}, nil)
	t.Cleanup(p.CloseIdleConnections)
	for i := range 3 {
		if code, _ := forward(t, p, cs.Get("tls-a"), ep, "GET", "h", "/", ""); code != 200 {
			t.Fatalf("tls-a GET %d: %d", i, code)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for three GETs of one cluster, want 1 (pooled)", n)
	}
	if code, body := forward(t, p, cs.Get("tls-a"), ep, "POST", "h", "/", "payload"); code != 200 || !strings.HasSuffix(body, "body=payload") {
		t.Fatalf("POST over TLS (fallback transport): %d %q", code, body)
	}
	before := conns.Load()
	if code, _ := forward(t, p, cs.Get("tls-b"), ep, "GET", "h", "/", ""); code != 200 {
		t.Fatalf("tls-b: %d", code)
	}
	if conns.Load() == before {
		t.Fatal("tls-b reused tls-a's connection")
	}
	// Plaintext to the TLS endpoint: a fresh plaintext connection, which the TLS server refuses.
	if code, _ := forward(t, p, cs.Get("plain"), ep, "GET", "h", "/", ""); code == 200 {
		t.Fatal("the plaintext cluster got a 200: it used a TLS connection")
	}
}

// TestUpstreamTLSClientCredential: MUTUAL with a client credential; a new version is used
// by the next connection (and does not resume the old identity's session), a deleted one
// fails closed without contacting the upstream.
func TestUpstreamTLSClientCredential(t *testing.T) {
	ca, clientCA := testpki.NewCA(t, "upstream CA"), testpki.NewCA(t, "client CA")
	ep, conns := tlsUpstream(t, ca, clientCA)
	c1, c2 := clientCA.Client(t, "gateway-one"), clientCA.Client(t, "gateway-two")
	ref := &snapshot.CredentialRef{Secret: "ns/client", Client: true, NeedCA: true}
	creds := &fakeCreds{m: map[string]ClientCredential{ref.Key(): {Certificate: &c1, RootCAs: ca.Pool, Version: "1"}}}
	obs := &tlsCounter{}
	cs := tlsClusters(creds, obs, snapshot.Cluster{Name: "m", TLS: &snapshot.UpstreamTLS{Mode: "MUTUAL", Credential: ref, SNI: "backend.test"}})
	p := NewProxy(Options{}, nil)
	t.Cleanup(p.CloseIdleConnections)
	c := cs.Get("m")
	want := func(path, cn string) {
		t.Helper()
		if code, body := forward(t, p, c, ep, "GET", "h", path, ""); code != 200 || !strings.Contains(body, "client="+cn+" ") {
			t.Fatalf("%d %q, want client %s", code, body, cn)
		}
	}
	want("/close", "gateway-one")
	want("/close", "gateway-one") // a new connection: resumed
	if obs.resumed == 0 {
		t.Errorf("handshakes full %d resumed %d: want a resumed one", obs.full, obs.resumed)
	}
	creds.set(ref.Key(), &ClientCredential{Certificate: &c2, RootCAs: ca.Pool, Version: "2"})
	resumed := obs.resumed
	want("/", "gateway-two")
	if obs.resumed != resumed {
		t.Error("the rotated identity resumed a session of the old one")
	}
	creds.set(ref.Key(), nil)
	before := conns.Load()
	code, _ := forward(t, p, c, ep, "GET", "h", "/", "")
	if code != 503 || obs.failures[TLSNoCredential] != 1 {
		t.Fatalf("deleted credential: %d, failures %v", code, obs.failures)
	}
	if conns.Load() != before {
		t.Fatal("the upstream was contacted without a client credential")
	}
	if _, err := c.ClientTLS(); err == nil || TransportFailureReason(err) == "" {
		t.Fatalf("ClientTLS() = %v, want a TLS error with a reason", err)
	}
}

func TestMatchSAN(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	leaf := ca.Issue(t, testpki.Leaf{CN: "x", DNS: []string{"*.svc.test", "exact.test"}, URIs: []string{"spiffe://td/ns/a/sa/b"}}).Leaf
	for _, tc := range []struct {
		want []string
		ok   bool
	}{
		{[]string{"exact.test"}, true},
		{[]string{"a.svc.test"}, true},
		{[]string{"a.b.svc.test"}, false},
		{[]string{"spiffe://td/ns/a/sa/b"}, true},
		{[]string{"nope.test", "exact.test"}, true},
		{[]string{"svc.test"}, false},
	} {
		if got := matchSAN(leaf, tc.want); got != tc.ok {
			t.Errorf("matchSAN(%v) = %v, want %v", tc.want, got, tc.ok)
		}
	}
}

// benchTLSUpstream is an HTTPS backend answering "ok"; closeEach makes every response
// close its connection (each request then handshakes), tickets=false disables resumption.
func benchTLSUpstream(b *testing.B, ca *testpki.CA, closeEach, tickets bool) string {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if closeEach {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, "ok")
	}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(b, "backend.test")}, SessionTicketsDisabled: !tickets}
	s.StartTLS()
	b.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func benchForwardTLS(b *testing.B, ep string, ca *testpki.CA, obs *tlsCounter) {
	ref := &snapshot.CredentialRef{Secret: "ns/ca", Client: true, CAOnly: true, NeedCA: true}
	creds := &fakeCreds{m: map[string]ClientCredential{ref.Key(): {RootCAs: ca.Pool, Version: "1"}}}
	cs := tlsClusters(creds, obs, snapshot.Cluster{Name: "c", TLS: &snapshot.UpstreamTLS{
		Mode: "SIMPLE", Credential: ref, SNI: "backend.test", SubjectAltNames: []string{"backend.test"}}})
	p := NewProxy(Options{}, nil)
	b.Cleanup(p.CloseIdleConnections)
	tg := &Target{Endpoint: ep, Cluster: cs.Get("c")}
	r := httptest.NewRequest(http.MethodGet, "http://a.example/", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		p.Forward(rec, r, tg)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkUpstreamTLS: a proxied GET to a TLS upstream (upstream half, backend in
// process): over a pooled connection, and on a new connection per request with the
// session resumed or with a full handshake (the backend issues no tickets).
func BenchmarkUpstreamTLS(b *testing.B) {
	ca := testpki.NewCA(b, "bench CA")
	b.Run("pooled", func(b *testing.B) {
		benchForwardTLS(b, benchTLSUpstream(b, ca, false, true), ca, &tlsCounter{})
	})
	b.Run("new-connection-resumed", func(b *testing.B) {
		obs := &tlsCounter{}
		benchForwardTLS(b, benchTLSUpstream(b, ca, true, true), ca, obs)
		b.ReportMetric(float64(obs.resumed)/float64(obs.resumed+obs.full), "resumed/handshake")
	})
	b.Run("new-connection-full", func(b *testing.B) {
		obs := &tlsCounter{}
		benchForwardTLS(b, benchTLSUpstream(b, ca, true, false), ca, obs)
		b.ReportMetric(float64(obs.resumed)/float64(obs.resumed+obs.full), "resumed/handshake")
	})
}
