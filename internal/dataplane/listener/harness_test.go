package listener_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/snapshot"
)

const host = "svc.example.com"

type creds map[string]listener.Credential

func (c creds) Lookup(k string) (listener.Credential, bool) { v, ok := c[k]; return v, ok }

// fixture is a started Listener with a handler, plain or TLS (SIMPLE, one server "*").
type fixture struct {
	t     testing.TB
	l     *listener.Listener
	roots *tls.Config
	fails chan string
	done  chan error
}

type option func(*listener.Config)

func start(t testing.TB, useTLS bool, h http.HandlerFunc, opts ...option) *fixture {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	f := &fixture{t: t, fails: make(chan string, 16), done: make(chan error, 1)}
	cfg := listener.Config{
		Addr: "127.0.0.1:0", Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		MaxHeaderBytes: 1 << 10, Logger: slog.New(slog.DiscardHandler),
		HandshakeFailure: func(r string) { f.fails <- r },
	}
	if useTLS {
		ca := testpki.NewCA(t, "test ca")
		ref := snapshot.CredentialRef{Secret: "ns/cert"}
		tab := listener.NewTable([]snapshot.Server{{Name: "s", Hosts: []string{"*"},
			TLS: &snapshot.TLS{Mode: snapshot.TLSSimple, Credential: ref}}},
			creds{ref.Key(): testpki.Credential(ca.Server(t, host))},
			listener.Tickets{Secret: []byte("x")}, slog.New(slog.DiscardHandler))
		cfg.TLS = func() *listener.Table { return tab }
		f.roots = &tls.Config{RootCAs: ca.Pool, ServerName: host, NextProtos: []string{"http/1.1"}}
	}
	for _, o := range opts {
		o(&cfg)
	}
	l, err := listener.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.l = l
	go func() { f.done <- l.Serve() }()
	t.Cleanup(func() {
		_ = l.Close()
		if err := <-f.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

// dial opens a client connection (TLS with ALPN http/1.1 when the fixture is TLS).
func (f *fixture) dial() *client {
	f.t.Helper()
	c, err := net.DialTimeout("tcp", f.l.Addr().String(), 5*time.Second)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.roots != nil {
		tc := tls.Client(c, f.roots)
		if err := tc.Handshake(); err != nil {
			f.t.Fatal(err)
		}
		c = tc
	}
	f.t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: f.t, c: c, br: bufio.NewReader(c)}
}

type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, raw); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response to a request with method.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading body: %v", err)
	}
	return resp, string(b)
}

// closed wants the server to close the connection (EOF or reset, no more data).
func (c *client) closed() {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	if len(b) > 0 {
		c.t.Fatalf("unexpected data before close: %q", b)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatal("connection not closed")
	}
}

func get(path string, hdrs ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + strings.Join(append(hdrs, ""), "\r\n") + "\r\n"
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// echo answers "path body" with the request's method, path and body.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
}

func shutdown(t *testing.T, l *listener.Listener) chan error {
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ch <- l.Shutdown(ctx)
	}()
	return ch
}
