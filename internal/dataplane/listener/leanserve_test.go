package listener_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
)

// Heads the lean parser takes are served as before: pipelined requests in one write,
// the CRLF tolerated after a POST, HTTP/1.0 closing, and the request context (per
// request, cancelled when the handler returns, carrying the connection).
func TestLeanHeadsServed(t *testing.T) {
	ctxs := make(chan context.Context, 8)
	f := start(t, true, func(w http.ResponseWriter, r *http.Request) {
		if listener.ConnFromContext(r.Context()) == nil || r.TLS == nil || r.RemoteAddr == "" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		ctxs <- r.Context()
		echo(w, r)
	})
	c := f.dial()
	c.send("POST /a HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 0\r\n\r\n\r\n" + get("/b?x=1") +
		get("/c", "Connection: close"))
	for _, want := range []string{"POST /a ", "GET /b ", "GET /c "} {
		resp, body := c.read("GET")
		if resp.StatusCode != http.StatusOK || body != want {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, want)
		}
		ctx := <-ctxs
		waitFor(t, "request context cancelled", func() bool { return errors.Is(ctx.Err(), context.Canceled) })
	}
	c.closed()

	c = f.dial()
	c.send("GET /d HTTP/1.0\r\nHost: " + host + "\r\n\r\n")
	if resp, body := c.read("GET"); resp.StatusCode != http.StatusOK || body != "GET /d " {
		t.Fatalf("HTTP/1.0: got %d %q", resp.StatusCode, body)
	}
	<-ctxs
	c.closed()
}

// A lean head's header values may be appended to without touching another field's.
func TestLeanHeaderAppend(t *testing.T) {
	f := start(t, false, func(w http.ResponseWriter, r *http.Request) {
		r.Header["A"] = append(r.Header["A"], "x")
		_, _ = io.WriteString(w, r.Header.Get("B"))
	})
	c := f.dial()
	c.send(get("/", "A: 1", "B: 2"))
	if _, body := c.read("GET"); body != "2" {
		t.Fatalf("B = %q, want 2", body)
	}
}
