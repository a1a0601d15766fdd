package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &n
}

func newH1(t *testing.T, respHeaderTimeout time.Duration) *h1Transport {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	h := &h1Transport{fallback: tr, dial: (&net.Dialer{}).DialContext, maxIdle: 4,
		idleTimeout: time.Minute, respHeaderTimeout: respHeaderTimeout, logger: slog.New(slog.DiscardHandler)}
	t.Cleanup(h.CloseIdleConnections)
	return h
}

func get(t *testing.T, rt http.RoundTripper, ctx context.Context, method, url string, body io.Reader) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, url, body)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestH1ReusesConnections(t *testing.T) {
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			_, _ = io.WriteString(w, "part1 ")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part2")
			w.Header().Set("X-Sum", "42")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = io.WriteString(w, "hello "+r.Method)
		}
	})
	h := newH1(t, 0)
	for i, tc := range []struct{ method, path, want string }{
		{"GET", "/", "hello GET"},
		{"GET", "/chunked", "part1 part2"},
		{"HEAD", "/", ""},
		{"OPTIONS", "/", "hello OPTIONS"},
		{"GET", "/empty", ""},
		{"GET", "/", "hello GET"},
	} {
		resp, body, err := get(t, h, context.Background(), tc.method, s.URL+tc.path, nil)
		if err != nil || body != tc.want {
			t.Fatalf("request %d %s %s: %q %v", i, tc.method, tc.path, body, err)
		}
		if tc.path == "/chunked" && resp.Trailer.Get("X-Sum") != "42" {
			t.Fatalf("trailer %v", resp.Trailer)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for sequential requests, want 1", n)
	}
}

func TestH1Timeouts(t *testing.T) {
	release := make(chan struct{})
	s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)

	t.Run("response header timeout", func(t *testing.T) {
		h := newH1(t, 50*time.Millisecond)
		_, _, err := get(t, h, context.Background(), "GET", s.URL, nil)
		if err == nil || StatusFor(err) != http.StatusGatewayTimeout {
			t.Fatalf("err %v, status %d; want a timeout (504)", err, StatusFor(err))
		}
	})
	t.Run("route timeout", func(t *testing.T) {
		h := newH1(t, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _, err := get(t, h, ctx, "GET", s.URL, nil)
		if !errors.Is(err, context.DeadlineExceeded) || StatusFor(err) != http.StatusGatewayTimeout {
			t.Fatalf("err %v, status %d; want context deadline (504)", err, StatusFor(err))
		}
	})
	t.Run("cancelled mid-body", func(t *testing.T) {
		s2, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "first")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		h := newH1(t, 0)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", s2.URL, nil)
		resp, err := h.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
			t.Fatalf("%q %v", buf, err)
		}
		cancel()
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("body read after cancel succeeded")
		}
		resp.Body.Close()
		if c := h.get(idleKey{addr: strings.TrimPrefix(s2.URL, "http://")}); c != nil {
			t.Fatal("the connection of a cancelled request went back to the pool")
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d connections to the streaming server, want 1", n)
		}
	})
}

func TestH1Informational(t *testing.T) {
	s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, "final")
	})
	h := newH1(t, 0)
	var got []int
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
			got = append(got, code)
			return nil
		},
	})
	resp, body, err := get(t, h, ctx, "GET", s.URL, nil)
	if err != nil || body != "final" || resp.StatusCode != 200 || len(got) != 1 || got[0] != 103 {
		t.Fatalf("status %v body %q 1xx %v err %v", resp, body, got, err)
	}
}

// TestH1Fallback: requests with a body, upgrades and Expect go to http.Transport.
func TestH1Fallback(t *testing.T) {
	s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+string(b))
	})
	h := newH1(t, 0)
	if _, body, err := get(t, h, context.Background(), "POST", s.URL, strings.NewReader("data")); err != nil || body != "POST data" {
		t.Fatalf("%q %v", body, err)
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		lean bool
	}{
		{"get", func() *http.Request { r, _ := http.NewRequest("GET", s.URL, nil); return r }, true},
		{"delete", func() *http.Request { r, _ := http.NewRequest("DELETE", s.URL, nil); return r }, false},
		{"delete with idempotency key", func() *http.Request {
			r, _ := http.NewRequest("DELETE", s.URL, nil)
			r.Header.Set("Idempotency-Key", "k1")
			return r
		}, true},
		{"post body", func() *http.Request { r, _ := http.NewRequest("POST", s.URL, strings.NewReader("x")); return r }, false},
		{"upgrade", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL, nil)
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		}, false},
		{"header value with CR LF", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL, nil)
			r.Header.Set("X-Forwarded-Client-Cert", "DNS=a\r\nX-Evil: 1")
			return r
		}, false},
		{"header name with space", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL, nil)
			r.Header["Bad Name"] = []string{"x"}
			return r
		}, false},
		{"expect", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL, nil)
			r.Header.Set("Expect", "100-continue")
			return r
		}, false},
	} {
		if got := lean(tc.req()); got != tc.lean {
			t.Errorf("%s: lean = %v, want %v", tc.name, got, tc.lean)
		}
	}
}

// rawServer answers every request on a connection with the bytes resp returns.
func rawServer(t *testing.T, resp func(w io.Writer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					resp(c)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// TestH1UpstreamLimits: an upstream cannot make the gateway loop on 1xx responses or
// buffer unbounded response heads (http.Transport's limits).
func TestH1UpstreamLimits(t *testing.T) {
	t.Run("1xx flood", func(t *testing.T) {
		url := rawServer(t, func(w io.Writer) {
			for range 100 {
				if _, err := io.WriteString(w, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"); err != nil {
					return
				}
			}
		})
		if _, _, err := get(t, newH1(t, 0), context.Background(), "GET", url, nil); err == nil || !strings.Contains(err.Error(), "1xx") {
			t.Fatalf("err %v, want too many 1xx", err)
		}
	})
	t.Run("endless head", func(t *testing.T) {
		url := rawServer(t, func(w io.Writer) {
			_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\n")
			line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
			for range 20000 { // 20 MB of header lines
				if _, err := io.WriteString(w, line); err != nil {
					return
				}
			}
		})
		if _, _, err := get(t, newH1(t, 0), context.Background(), "GET", url, nil); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Fatalf("err %v, want headers too large", err)
		}
	})
}
