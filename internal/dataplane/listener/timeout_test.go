package listener_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
)

// StreamIdleTimeout and RequestTimeout on HTTP/1.1 (Envoy's semantics, see timeout.go).
// The values are short; what is asserted is the outcome (408, closed connection,
// cancelled context), never how long it took: the failure mode caught is "never".
func TestStreamTimeouts(t *testing.T) {
	handlerErr := make(chan error, 4)
	h := func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/read": // a proxy: the body first, then the answer (an error if the body failed)
			if _, err := io.ReadAll(r.Body); err != nil {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			_, _ = io.WriteString(w, "read")
		case "/wait": // a slow upstream that gives up when the request's context ends
			<-r.Context().Done()
			w.WriteHeader(http.StatusBadGateway)
		case "/big": // more than the socket buffers hold, to a client that does not read
			buf := make([]byte, 64<<10)
			var err error
			for err == nil {
				_, err = w.Write(buf)
			}
			handlerErr <- errors.Join(err, r.Context().Err())
		}
	}
	idle := func(c *listener.Config) { c.StreamIdleTimeout = 300 * time.Millisecond }
	request := func(c *listener.Config) { c.RequestTimeout = 400 * time.Millisecond }
	post := func(path, rest string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 100\r\n\r\n" + rest
	}
	forBoth(t, func(t *testing.T, useTLS bool) {
		t.Run("stalled body: 408 stream timeout", func(t *testing.T) {
			f := start(t, useTLS, h, idle)
			c := f.dial()
			c.send(post("/read", "abc"))
			want408(t, c, "stream timeout")
		})
		t.Run("no bytes moving while the handler waits: 408, context cancelled", func(t *testing.T) {
			f := start(t, useTLS, h, idle)
			c := f.dial()
			c.send(get("/wait"))
			want408(t, c, "stream timeout")
		})
		t.Run("slow body trickle: 408 request timeout", func(t *testing.T) {
			f := start(t, useTLS, h, request, func(c *listener.Config) { c.StreamIdleTimeout = time.Minute })
			c := f.dial()
			c.send(post("/read", ""))
			stop := make(chan struct{})
			defer close(stop)
			go func() { // one byte every 20 ms: 2 s for the body, never idle
				tk := time.NewTicker(20 * time.Millisecond)
				defer tk.Stop()
				for range 100 {
					select {
					case <-stop:
						return
					case <-tk.C:
					}
					if _, err := c.c.Write([]byte("x")); err != nil {
						return
					}
				}
			}()
			want408(t, c, "request timeout")
		})
		t.Run("client not reading the response: closed, handler's write fails", func(t *testing.T) {
			f := start(t, useTLS, h, idle)
			c := f.dial()
			c.send(get("/big"))
			select {
			case err := <-handlerErr:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("handler: %v, want its context cancelled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("handler still writing to a client that does not read")
			}
		})
		t.Run("body sent in time: served, connection kept", func(t *testing.T) {
			f := start(t, useTLS, h, idle, request)
			c := f.dial()
			c.send(post("/read", strings.Repeat("a", 100)) + get("/read"))
			for range 2 {
				if r, body := c.read("GET"); r.StatusCode != http.StatusOK || body != "read" {
					t.Fatalf("got %d %q", r.StatusCode, body)
				}
			}
		})
	})
}

func want408(t *testing.T, c *client, body string) {
	t.Helper()
	r, got := c.read("GET")
	if r.StatusCode != http.StatusRequestTimeout || got != body || !r.Close {
		t.Fatalf("got %d %q close=%v, want 408 %q and Connection: close", r.StatusCode, got, r.Close, body)
	}
	c.closed()
}
