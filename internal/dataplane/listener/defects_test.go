package listener_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Regression tests for differences from http.Server found in review; each answer below
// is what net/http gives for the same bytes (the differential test checks it too).

// RFC 9112 3.2: a Host field value is validated even when the absolute-form target
// supplies the authority (net/http: 400 "malformed Host header").
func TestAbsoluteFormInvalidHostField(t *testing.T) {
	f := start(t, false, routes)
	c := f.dial()
	c.send("GET http://" + host + "/echo HTTP/1.1\r\nHost: a b\r\n\r\n")
	if r, body := c.read("GET"); r.StatusCode != http.StatusBadRequest || body != "400 Bad Request: malformed Host header" {
		t.Fatalf("got %d %q, want 400 malformed Host header", r.StatusCode, body)
	}
	c.closed()
}

// A head that arrives in two TLS records (so in two reads) is judged on its fields, not
// on what happened to be buffered first: the Host field is found in both parts.
func TestHeadSplitOverReads(t *testing.T) {
	f := start(t, true, routes)
	for _, parts := range [][2]string{
		{"GET http://" + host + "/echo HTTP/1.1\r\nHo", "st: " + host + "\r\n\r\n"},
		{"GET http://" + host + "/echo HTTP/1.1\r\n", "Host: " + host + "\r\n\r\n"},
		{"GET /echo HTTP/1.1\r\nHost:", "\r\n\r\n"},
		{"GET /echo HTTP/1.1\r\nX-A: 1\r\n", "Host:\r\n\r\n"},
	} {
		tc := dialTLS(t, f)
		// crypto/tls returns one record per Read: the server reads the head in two.
		_, _ = tc.Write([]byte(parts[0]))
		_, _ = tc.Write([]byte(parts[1]))
		cl := &client{t: t, c: tc, br: bufio.NewReader(tc)}
		if r, body := cl.read("GET"); r.StatusCode != http.StatusOK || body != "GET /echo " {
			t.Errorf("%q + %q: got %d %q, want 200", parts[0], parts[1], r.StatusCode, body)
		}
	}
}

func dialTLS(t *testing.T, f *fixture) *tls.Conn {
	t.Helper()
	raw, err := net.DialTimeout("tcp", f.l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, f.roots)
	t.Cleanup(func() { _ = tc.Close() })
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc
}

// Trailer names set with http.TrailerPrefix are field names like any other: an invalid
// one (here with CRLF, which would end the trailer section and start a response of the
// handler's making) is dropped, as net/http's Header.Write does.
func TestInvalidPrefixTrailerDropped(t *testing.T) {
	f := start(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/inject" {
			echo(w, r)
			return
		}
		_, _ = io.WriteString(w, strings.Repeat("x", 3000)) // chunked
		smuggled := "X\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
		w.Header()[http.TrailerPrefix+smuggled] = []string{"1"}
		w.Header()[http.TrailerPrefix+"Bad Name"] = []string{"1"}
		w.Header().Set(http.TrailerPrefix+"X-Ok", "ok")
	})
	c := f.dial()
	c.send(get("/inject") + get("/echo"))
	r, _ := c.read("GET")
	if got := r.Trailer.Get("X-Ok"); got != "ok" || len(r.Trailer) != 1 {
		t.Errorf("trailers %v, want only X-Ok: ok", r.Trailer)
	}
	if r, body := c.read("GET"); r.StatusCode != http.StatusOK || body != "GET /echo " {
		t.Fatalf("second response: %d %q, want the echo", r.StatusCode, body)
	}
}

// Trailers the client sends without declaring them in a Trailer field reach the
// handler's r.Trailer after the body's EOF, as with net/http (which sets the map on the
// request ReadRequest returned: ours is a copy of it with the request's context).
func TestUndeclaredRequestTrailers(t *testing.T) {
	f := start(t, false, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, r.Trailer.Get("X-T")+"|"+r.Trailer.Get("X-D"))
	})
	c := f.dial()
	const chunked = "Transfer-Encoding: chunked\r\n"
	c.send("POST / HTTP/1.1\r\nHost: " + host + "\r\n" + chunked + "\r\n3\r\nabc\r\n0\r\nX-T: v\r\n\r\n")
	if _, body := c.read("GET"); body != "v|" {
		t.Errorf("undeclared: handler saw trailers %q, want v|", body)
	}
	c.send("POST / HTTP/1.1\r\nHost: " + host + "\r\nTrailer: X-D\r\n" + chunked + "\r\n3\r\nabc\r\n0\r\nX-D: d\r\nX-T: v\r\n\r\n")
	if _, body := c.read("GET"); body != "v|d" {
		t.Errorf("declared: handler saw trailers %q, want v|d", body)
	}
}
