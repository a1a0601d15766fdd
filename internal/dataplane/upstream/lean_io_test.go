package upstream

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// forwardVia runs one request through Proxy.Forward (the lean path for a GET) to url.
func forwardVia(p *Proxy, ctx context.Context, url string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "http://a.example/", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	p.Forward(rec, r, &Target{Endpoint: strings.TrimPrefix(url, "http://")})
	return rec
}

func TestLeanTimeoutsAndCancellation(t *testing.T) {
	release := make(chan struct{})
	s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	logger := slog.New(slog.DiscardHandler)

	t.Run("response header timeout", func(t *testing.T) {
		p := NewProxy(Options{ResponseHeaderTimeout: 50 * time.Millisecond}, logger)
		defer p.CloseIdleConnections()
		start := time.Now()
		if rec := forwardVia(p, context.Background(), s.URL); rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("status %d, want 504", rec.Code)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Fatalf("timed out after %v (deadline 50ms, slack ≤ 1s)", d)
		}
	})
	t.Run("route timeout", func(t *testing.T) {
		p := NewProxy(Options{}, logger)
		defer p.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if rec := forwardVia(p, ctx, s.URL); rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("status %d, want 504", rec.Code)
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		p := NewProxy(Options{}, logger)
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		if rec := forwardVia(p, context.Background(), down.URL); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", rec.Code)
		}
	})
	t.Run("cancelled mid-body", func(t *testing.T) {
		s2, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "first")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		p := NewProxy(Options{}, logger)
		defer p.CloseIdleConnections()
		ctx, cancel := context.WithCancel(context.Background())
		w := &cancelAfterWrite{ResponseRecorder: httptest.NewRecorder(), cancel: cancel}
		r := httptest.NewRequest("GET", "http://a.example/", nil).WithContext(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.Forward(w, r, &Target{Endpoint: strings.TrimPrefix(s2.URL, "http://")})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Forward did not return after the request was cancelled mid-body")
		}
		if w.Body.String() != "first" {
			t.Fatalf("body %q", w.Body.String())
		}
		if c := p.transport.get(idleKey{addr: strings.TrimPrefix(s2.URL, "http://")}); c != nil {
			t.Fatal("the connection of a cancelled request went back to the pool")
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d connections, want 1", n)
		}
	})
}

// cancelAfterWrite cancels the request once the first body bytes reached the client.
type cancelAfterWrite struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (c *cancelAfterWrite) Write(p []byte) (int, error) {
	n, err := c.ResponseRecorder.Write(p)
	c.cancel()
	return n, err
}

func TestLeanBodiesAndReuse(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB: larger than every buffer
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = io.WriteString(w, big)
	})
	p := NewProxy(Options{}, slog.New(slog.DiscardHandler))
	defer p.CloseIdleConnections()
	for i := range 3 {
		rec := forwardVia(p, context.Background(), s.URL)
		if rec.Code != 200 || rec.Body.String() != big {
			t.Fatalf("request %d: status %d, %d body bytes", i, rec.Code, rec.Body.Len())
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for 3 sequential requests, want 1 (reused)", n)
	}
}

// TestLeanReplaysOnStaleConnection: an upstream that closes each connection after one
// response without saying so costs no failed request (the lean path replays a GET once).
func TestLeanReplaysOnStaleConnection(t *testing.T) {
	url := rawServer(t, func(w io.Writer) { _, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") })
	p := NewProxy(Options{}, slog.New(slog.DiscardHandler))
	defer p.CloseIdleConnections()
	for i := range 3 {
		if rec := forwardVia(p, context.Background(), strings.TrimSuffix(url, "/")); rec.Code != 200 || rec.Body.String() != "ok" {
			t.Fatalf("GET %d: %d %q", i, rec.Code, rec.Body.String())
		}
	}
}

// TestLeanSlowHeadAndCancellation: a response head slower than the poll interval is still
// served (the poll arms the cancellation watch and keeps waiting), and a request cancelled
// while its head is awaited returns within about one poll interval.
func TestLeanSlowHeadAndCancellation(t *testing.T) {
	release, hung := make(chan struct{}), make(chan struct{}, 1)
	s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(150 * time.Millisecond) // three poll intervals
			_, _ = io.WriteString(w, "late")
			return
		}
		hung <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	p := NewProxy(Options{}, slog.New(slog.DiscardHandler))
	p.transport.pollEvery = 50 * time.Millisecond
	defer p.CloseIdleConnections()
	ep := strings.TrimPrefix(s.URL, "http://")

	for i := range 2 { // the second request reuses the connection after an armed wait
		r := httptest.NewRequest("GET", "http://a.example/slow", nil)
		rec := httptest.NewRecorder()
		p.Forward(rec, r, &Target{Endpoint: ep})
		if rec.Code != 200 || rec.Body.String() != "late" {
			t.Fatalf("slow head %d: %d %q, want 200 late", i, rec.Code, rec.Body.String())
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		p.Forward(rec, httptest.NewRequest("GET", "http://a.example/hang", nil).WithContext(ctx), &Target{Endpoint: ep})
		done <- rec.Code
	}()
	<-hung // the request reached the upstream; its head is awaited
	cancel()
	select {
	case code := <-done:
		if code != http.StatusServiceUnavailable { // context.Canceled: the client is gone
			t.Fatalf("cancelled request answered %d", code)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a cancelled request kept waiting for its response head")
	}
}
