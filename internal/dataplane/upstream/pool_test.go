package upstream

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// overflows records Options.Overflow calls.
type overflows struct {
	mu sync.Mutex
	n  map[string]int // by breaker
}

func (o *overflows) add(_, breaker string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[breaker]++
}

func (o *overflows) get(breaker string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[breaker]
}

// poolProxy is a Proxy and one cluster with connection pool policy p for server s.
type poolProxy struct {
	p   *Proxy
	cl  *Cluster
	ep  string
	ovf *overflows
}

func newPoolProxy(t *testing.T, s *httptest.Server, p snapshot.ConnectionPool) *poolProxy {
	t.Helper()
	ovf := &overflows{}
	px := NewProxy(Options{Overflow: ovf.add}, slog.New(slog.DiscardHandler))
	t.Cleanup(px.CloseIdleConnections)
	ep := strings.TrimPrefix(s.URL, "http://")
	if p.ConnectTimeoutMillis == 0 {
		p.ConnectTimeoutMillis = 1000
	}
	cs := NewClusters([]snapshot.Cluster{{Name: "outbound|80||pool.test", Endpoints: []string{ep}, Pool: &p}})
	return &poolProxy{p: px, cl: cs.Get("outbound|80||pool.test"), ep: ep, ovf: ovf}
}

// do forwards one request (a body makes it take the http.Transport path).
func (pp *poolProxy) do(method, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://a.example/", rd).WithContext(context.Background())
	rec := httptest.NewRecorder()
	pp.p.Forward(rec, r, &Target{Endpoint: pp.ep, Cluster: pp.cl})
	return rec
}

// gate is a handler that holds every request until released, and reports arrivals.
type gate struct {
	arrived chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{arrived: make(chan struct{}, 16), release: make(chan struct{})} }

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	g.arrived <- struct{}{}
	<-g.release
	_, _ = io.WriteString(w, "ok")
}

func waitArrived(t *testing.T, g *gate) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("request did not reach the backend")
	}
}

// TestPoolMaxRequests: http2MaxRequests bounds the requests in progress to the cluster:
// one more gets 503 (UO) at once, on both paths; once one ends, the next goes through.
func TestPoolMaxRequests(t *testing.T) {
	g := newGate()
	s, _ := countingServer(t, g.ServeHTTP)
	pp := newPoolProxy(t, s, snapshot.ConnectionPool{MaxRequests: 1})
	done := make(chan int)
	go func() { done <- pp.do("GET", "").Code }()
	waitArrived(t, g)
	for _, body := range []string{"", "payload"} {
		if rec := pp.do("POST", body); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("second request (body %q): %d, want 503", body, rec.Code)
		}
	}
	if n := pp.ovf.get(BreakerMaxRequests); n != 2 {
		t.Fatalf("max_requests overflows %d, want 2", n)
	}
	close(g.release)
	if c := <-done; c != http.StatusOK {
		t.Fatalf("first request: %d", c)
	}
	if rec := pp.do("GET", ""); rec.Code != http.StatusOK {
		t.Fatalf("after the first ended: %d", rec.Code)
	}
}

// TestPoolPendingAndConnections: maxConnections 1 and http1MaxPendingRequests 1 (Istio's
// circuit-breaking example): while one request holds the only connection a second waits
// as pending and a third overflows with 503; the second then reuses the connection. The
// backend never sees a second connection. Both paths (lean, http.Transport).
func TestPoolPendingAndConnections(t *testing.T) {
	for _, body := range []string{"", "payload"} {
		t.Run("body="+body, func(t *testing.T) {
			g := newGate()
			s, conns := countingServer(t, g.ServeHTTP)
			pp := newPoolProxy(t, s, snapshot.ConnectionPool{MaxConnections: 1, MaxPendingRequests: 1})
			method := "GET"
			if body != "" {
				method = "POST"
			}
			codes := make(chan int, 2)
			go func() { codes <- pp.do(method, body).Code }()
			waitArrived(t, g)
			go func() { codes <- pp.do(method, body).Code }()
			// The second is pending once the max_connections overflow is counted.
			deadline := time.Now().Add(5 * time.Second)
			for pp.ovf.get(BreakerMaxConnections) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if rec := pp.do(method, body); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("third request: %d, want 503", rec.Code)
			}
			if n := pp.ovf.get(BreakerMaxPendingRequests); n != 1 {
				t.Fatalf("max_pending_requests overflows %d, want 1", n)
			}
			close(g.release)
			for range 2 {
				if c := <-codes; c != http.StatusOK {
					t.Fatalf("held request: %d", c)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Fatalf("backend saw %d connections, want 1", n)
			}
		})
	}
}

// TestPoolPerConnectionLimits: maxRequestsPerConnection closes a connection after that
// many requests (lean path and http.Transport path, where the last one says
// Connection: close); maxConnectionDuration and idleTimeout retire older connections.
func TestPoolPerConnectionLimits(t *testing.T) {
	var closes atomic.Int32
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Close {
			closes.Add(1)
		}
		_, _ = io.WriteString(w, "ok")
	})
	pp := newPoolProxy(t, s, snapshot.ConnectionPool{MaxRequestsPerConnection: 2, IdleTimeoutMillis: 3_600_000})
	for i := range 5 {
		if rec := pp.do("GET", ""); rec.Code != http.StatusOK {
			t.Fatalf("GET %d: %d", i, rec.Code)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("5 GETs, 2 per connection: %d connections, want 3", n)
	}
	for i := range 4 {
		if rec := pp.do("POST", "x"); rec.Code != http.StatusOK {
			t.Fatalf("POST %d: %d", i, rec.Code)
		}
	}
	if n, c := conns.Load(), closes.Load(); n != 5 || c != 2 {
		t.Fatalf("4 POSTs, 2 per connection: %d connections (want 5), %d Connection: close (want 2)", n, c)
	}

	s2, conns2 := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	for _, p := range []snapshot.ConnectionPool{{MaxConnectionDurationMillis: 50, IdleTimeoutMillis: 3_600_000}, {IdleTimeoutMillis: 50}} {
		conns2.Store(0)
		pp := newPoolProxy(t, s2, p)
		pp.do("GET", "")
		if pp.do("GET", ""); conns2.Load() != 1 {
			t.Fatalf("%+v: two quick requests used %d connections", p, conns2.Load())
		}
		time.Sleep(120 * time.Millisecond)
		pp.do("GET", "")
		if n := conns2.Load(); n != 2 {
			t.Fatalf("%+v: a request after the limit used %d connections in all, want 2", p, n)
		}
	}
}

// TestPoolConnectionsCounted: every connection is counted until it is closed, whoever
// closes it, so the slots of maxConnections come back.
func TestPoolConnectionsCounted(t *testing.T) {
	s, _ := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	pp := newPoolProxy(t, s, snapshot.ConnectionPool{MaxConnections: 2})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if rec := pp.do("POST", "x"); rec.Code != http.StatusOK {
				t.Errorf("POST: %d", rec.Code)
			}
			if rec := pp.do("GET", ""); rec.Code != http.StatusOK {
				t.Errorf("GET: %d", rec.Code)
			}
		})
	}
	wg.Wait()
	cp := pp.cl.pool.Load()
	cp.mu.Lock()
	open := cp.conns
	cp.mu.Unlock()
	if open < 1 || open > 3 { // an endpoint's first connection on each path may exceed the limit
		t.Fatalf("%d connections counted open, want 1-3", open)
	}
	pp.p.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cp.mu.Lock()
		open = cp.conns
		cp.mu.Unlock()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still counted after closing them", open)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
