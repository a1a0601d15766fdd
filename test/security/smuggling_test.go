package security

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sentinel ends a smuggling attempt: a harmless request that closes the connection, so
// the test reads every response the attack produced and then EOF.
var sentinel = get("/api/sentinel", fe, "Connection: close")

// responses reads responses until the server closes the connection.
func (rc *rawConn) responses() []*http.Response {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []*http.Response
	for {
		resp, _, err := rc.response()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
				rc.t.Fatalf("after %d responses: %v", len(out), err)
			}
			return out
		}
		out = append(out, resp)
		if resp.Close {
			return out
		}
	}
}

func codes(rs []*http.Response) []int {
	var c []int
	for _, r := range rs {
		c = append(c, r.StatusCode)
	}
	return c
}

// TestRequestSmuggling: ambiguous or malformed HTTP/1.1 framing is rejected, or resolved
// one way and re-framed, so a backend can never see a request boundary the gateway did
// not; whatever follows a request is routed (and Host-bound) as a request of its own.
func TestRequestSmuggling(t *testing.T) {
	e := newEnv(t, nil)
	post := "POST /api/x HTTP/1.1\r\nHost: " + fe + "\r\n"
	smuggled := "GET /internal/x HTTP/1.1\r\nHost: " + inv + "\r\n\r\n"
	cases := []struct {
		name  string
		raw   string
		codes []int  // responses, in order, before the connection closes
		body  string // what the first backend request's body must be (when it reached one)
	}{
		{"Content-Length and Transfer-Encoding: chunked wins, CL dropped, rest is a new request",
			post + "Content-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled + sentinel,
			[]int{200, 421, 200}, ""},
		{"Transfer-Encoding then Content-Length",
			post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + sentinel,
			[]int{200, 200}, "abc"},
		{"duplicate Content-Length, different values", post + "Content-Length: 3\r\nContent-Length: 30\r\n\r\nabc", []int{400}, ""},
		{"duplicate Content-Length, same value", post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + sentinel, []int{200, 200}, "abc"},
		{"Content-Length list", post + "Content-Length: 3, 3\r\n\r\nabc", []int{400}, ""},
		{"Content-Length with sign", post + "Content-Length: +3\r\n\r\nabc", []int{400}, ""},
		{"Content-Length hex", post + "Content-Length: 0x3\r\n\r\nabc", []int{400}, ""},
		{"Content-Length negative", post + "Content-Length: -1\r\n\r\n", []int{400}, ""},
		{"Transfer-Encoding: chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", []int{501}, ""},
		{"Transfer-Encoding: identity", post + "Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc", []int{501}, ""},
		{"Transfer-Encoding: gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", []int{501}, ""},
		{"two Transfer-Encoding headers", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{501}, ""},
		{"Transfer-Encoding: xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", []int{501}, ""},
		{"Transfer-Encoding with space before colon", post + "Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc", []int{400}, ""},
		{"Transfer-Encoding obs-folded", post + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n" + sentinel, []int{200, 200}, ""},
		{"HTTP/1.0 with Transfer-Encoding: Content-Length is used",
			"POST /api/x HTTP/1.0\r\nHost: " + fe + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", []int{200}, "abc"},
		{"bad chunk size", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", nil, ""},
		{"chunk size overflow", post + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n", nil, ""},
		{"obs-fold is unfolded", get("/api/x", fe, "X-Folded: a\r\n b") + sentinel, []int{200, 200}, ""},
		{"obs-fold on the first header line", "GET /api/x HTTP/1.1\r\n X-Folded: a\r\nHost: " + fe + "\r\n\r\n", []int{400}, ""},
		{"bare LF line endings (accepted, re-framed)", "GET /api/x HTTP/1.1\nHost: " + fe + "\n\n" + sentinel, []int{200, 200}, ""},
		{"bare CR in a value", get("/api/x", fe, "X-A: a\rHost: "+inv), []int{400}, ""},
		{"NUL in a value", get("/api/x", fe, "X-A: a\x00b"), []int{400}, ""},
		{"NUL in a name", get("/api/x", fe, "X-\x00A: b"), []int{400}, ""},
		{"space in a name", get("/api/x", fe, "X A: b"), []int{400}, ""},
		{"Content-Length body holding a request stays a body",
			post + "Content-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled + sentinel, []int{200, 200}, smuggled},
		{"HTTP/0.9 request line", "GET /api/x\r\n\r\n", []int{400}, ""},
		{"extra token in request line", "GET /api/x HTTP/1.1 x\r\nHost: " + fe + "\r\n\r\n", []int{400}, ""},
		{"HTTP/1.2 is served as HTTP/1.1", "GET /api/x HTTP/1.2\r\nHost: " + fe + "\r\n\r\n" + sentinel, []int{200, 200}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := e.open(t, fe, fe)
			before := e.echo.count()
			rc.send(c.raw)
			rs := rc.responses()
			got := codes(rs)
			if c.codes == nil { // anything but a success
				for _, code := range got {
					if code < 400 {
						t.Fatalf("responses %v, want only errors", got)
					}
				}
			} else if !slices.Equal(got, c.codes) {
				t.Fatalf("responses %v, want %v", got, c.codes)
			}
			reached := e.echo.since(before)
			for _, s := range reached {
				if s.Backend != "frontend" || strings.HasPrefix(s.Path, "/internal") {
					t.Fatalf("smuggled request reached %s %s", s.Backend, s.Path)
				}
				if len(s.Header["Transfer-Encoding"]) > 0 && len(s.Header["Content-Length"]) > 0 {
					t.Fatalf("backend received both framings: %v", s.Header)
				}
				if strings.Contains(strings.Join(s.Header["X-Folded"], ""), "\n") {
					t.Fatalf("backend received a folded header: %q", s.Header["X-Folded"])
				}
			}
			if c.body != "" && (len(reached) == 0 || reached[0].Body != c.body) {
				t.Fatalf("backend requests %+v, want the first with body %q", reached, c.body)
			}
			if c.codes == nil && len(reached) > 0 && reached[0].Body != "" {
				t.Fatalf("a malformed body reached the backend: %q", reached[0].Body)
			}
		})
	}
}

// TestUpgradeSmuggling: an h2c upgrade (RFC 7540 §3.2) forwarded to a backend that
// accepts it turns the client's connection into an HTTP/2 tunnel straight to the backend,
// past every route, 421 and header rule of the gateway ("h2c smuggling"). The gateway
// must never forward it.
func TestUpgradeSmuggling(t *testing.T) {
	e := newEnv(t, nil)
	for name, up := range map[string]string{
		"h2c":            "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c",
		"H2C upper case": "Connection: upgrade, http2-settings\r\nUpgrade: H2C",
		"h2c in a list":  "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: foo/1, h2c",
		"h2c without HTTP2-Settings in Connection": "Connection: Upgrade\r\nUpgrade: h2c",
	} {
		t.Run(name, func(t *testing.T) {
			rc := e.open(t, fe, fe)
			before := e.echo.count()
			resp, body := rc.do(get("/api/x", fe, up, "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"))
			if resp.StatusCode == http.StatusSwitchingProtocols {
				t.Fatalf("101 %s: the client now has an h2c tunnel to the backend", resp.Header.Get("Upgrade"))
			}
			s := mustEcho(t, resp, body, "frontend")
			if u := s.Header["Upgrade"]; len(u) > 0 {
				t.Fatalf("backend received Upgrade %q", u)
			}
			if n := len(e.echo.since(before)); n != 1 {
				t.Fatalf("%d backend requests", n)
			}
		})
	}
}
