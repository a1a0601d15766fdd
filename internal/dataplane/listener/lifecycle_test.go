package listener_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
)

func forBoth(t *testing.T, fn func(t *testing.T, useTLS bool)) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(t *testing.T) { fn(t, useTLS) })
	}
}

func TestTimeouts(t *testing.T) {
	short := func(c *listener.Config) {
		c.ReadHeaderTimeout, c.IdleTimeout = 200*time.Millisecond, 300*time.Millisecond
	}
	forBoth(t, func(t *testing.T, useTLS bool) {
		f := start(t, useTLS, routes, short)
		t.Run("idle keep-alive connection closed after IdleTimeout", func(t *testing.T) {
			c := f.dial()
			c.send(get("/echo"))
			c.read("GET")
			start := time.Now()
			c.closed()
			if took := time.Since(start); took < 250*time.Millisecond {
				t.Fatalf("closed after %v", took)
			}
		})
		t.Run("reused after idling past the goroutine hop", func(t *testing.T) {
			c := f.dial()
			c.send(get("/echo"))
			c.read("GET")
			idle := time.Now()
			// Past hopDelay (200 ms), within IdleTimeout (300 ms): a polling wait for a
			// time, not for an event.
			waitFor(t, "250 ms of idleness", func() bool { return time.Since(idle) > 250*time.Millisecond })
			c.send(get("/echo"))
			if r, _ := c.read("GET"); r.StatusCode != 200 {
				t.Fatalf("got %d", r.StatusCode)
			}
		})
		t.Run("slowloris: head not complete within ReadHeaderTimeout", func(t *testing.T) {
			c := f.dial()
			c.send("GET /echo HTTP/1.1\r\nHost: " + host + "\r\nX-A: ")
			c.closed()
		})
		t.Run("connection without a request", func(t *testing.T) {
			f.dial().closed()
		})
	})
}

func TestExpectContinue(t *testing.T) {
	forBoth(t, func(t *testing.T, useTLS bool) {
		c := start(t, useTLS, routes).dial()
		c.send("POST /echo HTTP/1.1\r\nHost: " + host + "\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
		if r, _ := c.read("POST"); r.StatusCode != http.StatusContinue {
			t.Fatalf("got %d, want 100 before the body", r.StatusCode)
		}
		c.send("abc")
		if r, body := c.read("POST"); r.StatusCode != 200 || body != "POST /echo abc" {
			t.Fatalf("got %d %q", r.StatusCode, body)
		}
	})
}

// A client going away while its request runs cancels the request's context (once the
// body, if any, was read: as with net/http, an unread body is not watched).
func TestDisconnectCancelsContext(t *testing.T) {
	for name, raw := range map[string]string{
		"no body":   get("/x"),
		"read body": "POST /x HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 2\r\n\r\nab",
	} {
		t.Run(name, func(t *testing.T) { testDisconnect(t, raw) })
	}
}

func testDisconnect(t *testing.T, raw string) {
	forBoth(t, func(t *testing.T, useTLS bool) {
		cancelled := make(chan error, 1)
		f := start(t, useTLS, func(_ http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			select {
			case <-r.Context().Done():
				cancelled <- r.Context().Err()
			case <-time.After(5 * time.Second):
				cancelled <- errors.New("not cancelled within 5 s")
			}
		})
		c := f.dial()
		c.send(raw)
		_ = c.c.Close()
		start := time.Now()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Fatalf("cancelled after %v", took)
		}
	})
}

// The request carries what handlers (and httputil.ReverseProxy) look up.
func TestRequestContext(t *testing.T) {
	forBoth(t, func(t *testing.T, useTLS bool) {
		got := make(chan string, 1)
		f := start(t, useTLS, func(_ http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			var missing []string
			if listener.ConnFromContext(ctx) == nil {
				missing = append(missing, "conn")
			}
			if ctx.Value(http.ServerContextKey) == nil {
				missing = append(missing, "server")
			}
			if a, _ := ctx.Value(http.LocalAddrContextKey).(net.Addr); a == nil || a.String() != f0(r) {
				missing = append(missing, "local addr")
			}
			if (r.TLS != nil) != useTLS || r.RemoteAddr == "" || r.RequestURI != "/x?y" || r.Host != host {
				missing = append(missing, "request fields")
			}
			got <- strings.Join(missing, ",")
		})
		c := f.dial()
		c.send(get("/x?y"))
		c.read("GET")
		if m := <-got; m != "" {
			t.Fatalf("missing: %s", m)
		}
	})
}

// f0 is the local address a request arrived at, as the handler sees it.
func f0(r *http.Request) string { return listener.ConnFromContext(r.Context()).LocalAddr().String() }

func TestHijack(t *testing.T) {
	forBoth(t, func(t *testing.T, useTLS bool) {
		f := start(t, useTLS, func(w http.ResponseWriter, _ *http.Request) {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			line, _ := rw.ReadString('\n') // sent with the request: buffered by the server
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\necho " + line)
			_ = rw.Flush()
		})
		c := f.dial()
		c.send(get("/") + "hello\n")
		r, _ := c.read("GET")
		line, _ := c.br.ReadString('\n')
		if r.StatusCode != 101 || line != "echo hello\n" {
			t.Fatalf("got %d %q", r.StatusCode, line)
		}
	})
}

// Shutdown closes idle connections at once, answers in-flight requests with
// Connection: close, and returns when they are done.
func TestShutdown(t *testing.T) {
	forBoth(t, func(t *testing.T, useTLS bool) {
		arrived, release := make(chan struct{}), make(chan struct{})
		f := start(t, useTLS, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(arrived)
				<-release
			}
			_, _ = io.WriteString(w, "ok")
		})
		idle := f.dial()
		idle.send(get("/"))
		idle.read("GET")
		busy := f.dial()
		busy.send(get("/slow"))
		<-arrived
		done := shutdown(t, f.l)
		idle.closed()
		if _, err := net.Dial("tcp", f.l.Addr().String()); err == nil {
			t.Fatal("still accepting")
		}
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v with a request in flight", err)
		default:
		}
		close(release)
		if r, body := busy.read("GET"); body != "ok" || !r.Close {
			t.Fatalf("in-flight request: %q close=%v", body, r.Close)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestPlainHTTPOnTLSPort(t *testing.T) {
	f := start(t, true, routes)
	c, err := net.Dial("tcp", f.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, get("/"))
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || r.StatusCode != 400 {
		t.Fatalf("got %v %v", r, err)
	}
	if reason := <-f.fails; reason != listener.ReasonProtocol {
		t.Fatalf("failure %q", reason)
	}
}

// Connections negotiating h2 are served by our HTTP/2 server (package h2).
func TestHTTP2Handoff(t *testing.T) {
	f := start(t, true, routes)
	cfg := f.roots.Clone()
	cfg.NextProtos = nil
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	r, err := (&http.Client{Transport: tr}).Get("https://" + f.l.Addr().String() + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.ProtoMajor != 2 || string(b) != "GET /echo " {
		t.Fatalf("got %s %q", r.Proto, b)
	}
	_ = tls.VersionTLS13
}

// Close cuts in-flight requests: their contexts are cancelled at once.
func TestCloseCancelsRequests(t *testing.T) {
	forBoth(t, func(t *testing.T, useTLS bool) {
		arrived, cancelled := make(chan struct{}), make(chan error, 1)
		f := start(t, useTLS, func(_ http.ResponseWriter, r *http.Request) {
			close(arrived)
			select {
			case <-r.Context().Done():
				cancelled <- nil
			case <-time.After(5 * time.Second):
				cancelled <- errors.New("not cancelled within 5 s")
			}
		})
		c := f.dial()
		c.send(get("/"))
		<-arrived
		if err := f.l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-cancelled; err != nil {
			t.Fatal(err)
		}
		c.closed()
	})
}

// Shutdown closes a connection still in its TLS handshake at once (it would not be
// served), without counting a handshake failure.
func TestShutdownDuringHandshake(t *testing.T) {
	f := start(t, true, routes)
	c, err := net.Dial("tcp", f.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte{0x16, 0x03, 0x01}) // the start of a record header
	start := time.Now()
	if err := <-shutdown(t, f.l); err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, c: c, br: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	cl.closed()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Shutdown took %v", took)
	}
	select {
	case r := <-f.fails:
		t.Fatalf("handshake failure %q counted", r)
	default:
	}
}
