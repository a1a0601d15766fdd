package upstream

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// BenchmarkLeanForward measures the upstream half of a proxied GET on the lean path: the
// request head written on a pooled loopback connection, the response head parsed and its
// body copied, the connection taken from and returned to the pool (with its idle check).
// The backend is an httptest server in the same process: its cost is counted too.
func BenchmarkLeanForward(b *testing.B) { benchLean(b, nil) }

// benchLean forwards GETs to a loopback backend, to a cluster with pool policy p (nil:
// no cluster).
func benchLean(b *testing.B, p *snapshot.ConnectionPool) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(s.Close)
	px := NewProxy(Options{}, slog.New(slog.DiscardHandler))
	b.Cleanup(px.CloseIdleConnections)
	tg := &Target{Endpoint: strings.TrimPrefix(s.URL, "http://")}
	if p != nil {
		tg.Cluster = NewClusters([]snapshot.Cluster{{Name: "c", Endpoints: []string{tg.Endpoint}, Pool: p}}).Get("c")
	}
	r := httptest.NewRequest(http.MethodGet, "http://a.example/", nil).WithContext(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		px.Forward(rec, r, tg)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkIdleCheck measures the look at a pooled connection before each reuse (one
// non-blocking MSG_PEEK on an idle loopback socket): the lean path's price for never
// reading another request's leftovers.
func BenchmarkIdleCheck(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err == nil {
			b.Cleanup(func() { c.Close() })
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	rc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	p := newIdleProbe(rc)
	b.ReportAllocs()
	for b.Loop() {
		if st, _ := p.check(); st != idleClean {
			b.Fatalf("idle connection seen as %d", st)
		}
	}
}

// BenchmarkH2Forward is BenchmarkLeanForward to an HTTP/2 cluster (h2c): the same GET
// through ReverseProxy over x/net's HTTP/2 transport (design 0020).
func BenchmarkH2Forward(b *testing.B) {
	addr := h2cServer(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	p := NewProxy(Options{}, slog.New(slog.DiscardHandler))
	b.Cleanup(p.CloseIdleConnections)
	cl := NewClusters([]snapshot.Cluster{{Name: "c", Protocol: snapshot.UpstreamHTTP2, Endpoints: []string{addr}}}).Get("c")
	tg := &Target{Endpoint: addr, Cluster: cl}
	r := httptest.NewRequest(http.MethodGet, "http://a.example/", nil).WithContext(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		p.Forward(rec, r, tg)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkLeanForwardPool is BenchmarkLeanForward to a cluster with a connection pool
// policy (limits counted, connections of its own; design 0022).
func BenchmarkLeanForwardPool(b *testing.B) {
	benchLean(b, &snapshot.ConnectionPool{MaxConnections: 8, MaxRequests: 100, MaxRequestsPerConnection: 1000,
		ConnectTimeoutMillis: 1000, IdleTimeoutMillis: 60000})
}
