package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ctxKey struct{}

// env is a TLS listener on 127.0.0.1 whose "h2" connections are served by a Server.
type env struct {
	t      *testing.T
	srv    *Server
	ln     net.Listener
	roots  *x509.CertPool
	wg     sync.WaitGroup
	client *http.Client
	tr     *http2.Transport
}

func newEnv(t *testing.T, h http.Handler, opts ...func(*Server)) *env {
	t.Helper()
	cert, roots := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ln: ln, roots: roots, srv: &Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	for _, o := range opts {
		o(e.srv)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				tc := tls.Server(nc, cfg)
				if err := tc.HandshakeContext(context.Background()); err != nil {
					_ = tc.Close()
					return
				}
				e.srv.ServeConn(context.WithValue(context.Background(), ctxKey{}, "base"), tc)
			}()
		}
	}()
	e.tr = &http2.Transport{TLSClientConfig: e.clientTLS()}
	e.client = &http.Client{Transport: e.tr, Timeout: 30 * time.Second}
	t.Cleanup(func() {
		e.tr.CloseIdleConnections()
		_ = ln.Close()
		_ = e.srv.Close()
		e.wg.Wait()
	})
	return e
}

func (e *env) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: e.roots, ServerName: "h2.test", NextProtos: []string{"h2"}}
}

func (e *env) url(path string) string { return "https://" + e.ln.Addr().String() + path }

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "h2.test"}, DNSNames: []string{"h2.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// raw is a client speaking frames directly, for protocol and DoS cases.
type raw struct {
	t    *testing.T
	c    *tls.Conn
	bw   *bufio.Writer
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func tlsDial(e *env) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return tls.DialWithDialer(d, "tcp", e.ln.Addr().String(), e.clientTLS())
}

func (e *env) raw(t *testing.T) *raw {
	t.Helper()
	c, err := tlsDial(e)
	if err != nil {
		t.Fatal(err)
	}
	r := &raw{t: t, c: c, bw: bufio.NewWriterSize(c, 64<<10)}
	r.fr = http2.NewFramer(r.bw, bufio.NewReader(c))
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.fr.MaxHeaderListSize = 1 << 20
	r.enc = hpack.NewEncoder(&r.hbuf)
	t.Cleanup(func() { _ = c.Close() })
	_, _ = r.bw.WriteString(http2.ClientPreface)
	_ = r.fr.WriteSettings()
	r.flush()
	return r
}

func (r *raw) flush() {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := r.bw.Flush(); err != nil {
		r.t.Fatalf("client write: %v", err)
	}
}

// block HPACK-encodes name/value pairs.
func (r *raw) block(kv ...string) []byte {
	r.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = r.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), r.hbuf.Bytes()...)
}

func (r *raw) headers(id uint32, end bool, kv ...string) {
	r.t.Helper()
	_ = r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(kv...), EndStream: end, EndHeaders: true})
	r.flush()
}

func get(path string, extra ...string) []string {
	return append([]string{":method", "GET", ":scheme", "https", ":authority", "h2.test", ":path", path}, extra...)
}

// next reads frames until match returns true (acking nothing); it fails after 5 s or
// when the connection ends first.
func (r *raw) next(match func(http2.Frame) bool) http2.Frame {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("reading frames: %v", err)
		}
		if match(f) {
			return f
		}
	}
}

func (r *raw) goAway() *http2.GoAwayFrame {
	r.t.Helper()
	return r.next(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
}

func (r *raw) rst(id uint32) *http2.RSTStreamFrame {
	r.t.Helper()
	return r.next(func(f http2.Frame) bool { x, ok := f.(*http2.RSTStreamFrame); return ok && x.StreamID == id }).(*http2.RSTStreamFrame)
}

// response reads the response HEADERS of stream id and returns its :status.
func (r *raw) status(id uint32) string {
	r.t.Helper()
	f := r.next(func(f http2.Frame) bool {
		if x, ok := f.(*http2.RSTStreamFrame); ok && x.StreamID == id {
			r.t.Fatalf("stream %d reset: %v", id, x.ErrCode)
		}
		x, ok := f.(*http2.MetaHeadersFrame)
		return ok && x.StreamID == id
	})
	return f.(*http2.MetaHeadersFrame).PseudoValue("status")
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
