package listener_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// routes is the handler of the exchange tests, by path.
func routes(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/echo":
		echo(w, r)
	case "/cl": // declared length; the request body is left unread
		w.Header().Set("Content-Length", "5")
		_, _ = io.WriteString(w, "hello")
	case "/big": // more than the buffer: chunked
		_, _ = io.WriteString(w, strings.Repeat("x", 5000))
	case "/status":
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	case "/hint":
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, "final")
	case "/close":
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	case "/trailer":
		w.Header().Set("Trailer", "X-Sum")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "data")
		w.Header().Set("X-Sum", "42")
	case "/panic":
		panic("boom")
	case "/abort":
		_, _ = io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	}
}

// resp is what a test expects of one response ("" fields are not checked).
type resp struct {
	Method string
	Status int
	Body   string
	Header map[string]string // "" value: must be absent
}

func TestExchanges(t *testing.T) {
	post := func(path, hdrs, body string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + hdrs + "\r\n" + body
	}
	cases := []struct {
		name   string
		raw    string
		want   []resp
		closes bool // the server closes the connection after them
	}{
		{"keep-alive: Content-Length within the buffer", get("/echo"), []resp{{Status: 200, Body: "GET /echo ", Header: map[string]string{"Content-Length": "10", "Transfer-Encoding": "", "Connection": ""}}}, false},
		{"pipelined requests answered in order", get("/echo/a") + get("/echo") + get("/cl"),
			[]resp{{Status: 404 - 404 + 200, Body: ""}, {Status: 200, Body: "GET /echo "}, {Status: 200, Body: "hello"}}, false},
		{"chunked request body", post("/echo", "Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
			[]resp{{Status: 200, Body: "POST /echo abcde"}}, false},
		{"unread small body is drained, connection kept", post("/cl", "Content-Length: 3\r\n", "abc") + get("/echo"),
			[]resp{{Status: 200, Body: "hello"}, {Status: 200, Body: "GET /echo "}}, false},
		{"unread large body: Connection: close", post("/cl", "Content-Length: 300000\r\n", strings.Repeat("a", 1000)),
			[]resp{{Status: 200, Body: "hello", Header: map[string]string{"Connection": "close"}}}, true},
		{"large response is chunked", get("/big"), []resp{{Status: 200, Body: strings.Repeat("x", 5000), Header: map[string]string{"Transfer-Encoding": "chunked", "Content-Length": ""}}}, false},
		{"HEAD: declared length, no body", "HEAD /cl HTTP/1.1\r\nHost: " + host + "\r\n\r\n" + get("/echo"),
			[]resp{{Method: "HEAD", Status: 200, Header: map[string]string{"Content-Length": "5"}}, {Status: 200, Body: "GET /echo "}}, false},
		{"204 and 304 have no body", get("/status?code=204") + get("/status?code=304") + get("/echo"),
			[]resp{{Status: 204, Header: map[string]string{"Content-Length": ""}}, {Status: 304}, {Status: 200, Body: "GET /echo "}}, false},
		{"103 Early Hints before the response", get("/hint"),
			[]resp{{Status: 103, Header: map[string]string{"Link": "</a.css>; rel=preload"}}, {Status: 200, Body: "final"}}, false},
		{"trailers", get("/trailer"), []resp{{Status: 200, Body: "data"}}, false},
		{"client Connection: close", get("/echo", "Connection: close"),
			[]resp{{Status: 200, Body: "GET /echo ", Header: map[string]string{"Connection": "close"}}}, true},
		{"handler Connection: close", get("/close"), []resp{{Status: 200, Body: "bye", Header: map[string]string{"Connection": "close"}}}, true},
		{"HTTP/1.0 is close-delimited", "GET /echo HTTP/1.0\r\n\r\n", []resp{{Status: 200, Body: "GET /echo "}}, true},
		{"HTTP/1.0 keep-alive", "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get("/cl"),
			[]resp{{Status: 200, Body: "GET /echo ", Header: map[string]string{"Connection": "keep-alive"}}, {Status: 200, Body: "hello"}}, false},
		{"Expect 100-continue, body never read: no 100, Connection: close", post("/cl", "Expect: 100-continue\r\nContent-Length: 3\r\n", ""),
			[]resp{{Status: 200, Body: "hello", Header: map[string]string{"Connection": "close"}}}, true},
		{"Expect other than 100-continue: 417", post("/echo", "Expect: x\r\nContent-Length: 1\r\n", "a"), []resp{{Status: 417}}, true},
		{"431 for a header block over the limit", get("/echo", "X-Big: "+strings.Repeat("a", 6000)),
			[]resp{{Status: 431, Body: "431 Request Header Fields Too Large"}}, true},
		{"400: missing Host", "GET /echo HTTP/1.1\r\n\r\n",
			[]resp{{Status: 400, Body: "400 Bad Request: missing required Host header", Header: map[string]string{"Connection": "close"}}}, true},
		{"empty Host is accepted (as net/http)", "GET /echo HTTP/1.1\r\nHost:\r\n\r\n", []resp{{Status: 200}}, false},
		{"400: absolute form without Host", "GET http://" + host + "/echo HTTP/1.1\r\n\r\n", []resp{{Status: 400}}, true},
		{"400: malformed request line", "GET /echo HTTP/1.1 x\r\nHost: a\r\n\r\n", []resp{{Status: 400, Body: "400 Bad Request"}}, true},
		{"400: invalid header value", get("/echo", "X-A: a\x00b"), []resp{{Status: 400}}, true},
		{"400: malformed Host", "GET /echo HTTP/1.1\r\nHost: a b\r\n\r\n", []resp{{Status: 400, Body: "400 Bad Request: malformed Host header"}}, true},
		{"501: unsupported transfer encoding", post("/echo", "Transfer-Encoding: gzip\r\n", ""), []resp{{Status: 501, Body: "Unsupported transfer encoding"}}, true},
		{"505: HTTP/2.0 request line", "GET /echo HTTP/2.0\r\nHost: a\r\n\r\n", []resp{{Status: 505}}, true},
		{"OPTIONS * answered by the server", "OPTIONS * HTTP/1.1\r\nHost: " + host + "\r\n\r\n", []resp{{Status: 200, Header: map[string]string{"Content-Length": "0"}}}, false},
		{"handler panic closes the connection", get("/panic"), nil, true},
		{"ErrAbortHandler closes the connection", get("/abort"), nil, true},
	}
	for _, useTLS := range []bool{false, true} {
		f := start(t, useTLS, routes)
		for _, tc := range cases {
			t.Run(map[bool]string{false: "plain/", true: "tls/"}[useTLS]+tc.name, func(t *testing.T) {
				c := f.dial()
				c.t = t
				c.send(tc.raw)
				for i, want := range tc.want {
					method := want.Method
					if method == "" {
						method = "GET"
					}
					r, body := c.read(method)
					got := resp{Method: want.Method, Status: r.StatusCode}
					if want.Body != "" {
						got.Body = body
					}
					for k := range want.Header {
						if got.Header == nil {
							got.Header = map[string]string{}
						}
						got.Header[k] = fieldOf(r, k)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("response %d (-want +got):\n%s", i, diff)
					}
				}
				if tc.closes {
					c.closed()
				} else {
					c.send(get("/echo"))
					if r, _ := c.read("GET"); r.StatusCode != 200 {
						t.Errorf("next request on the connection: %d", r.StatusCode)
					}
				}
			})
		}
	}
}

// fieldOf returns a response header field as sent (http.ReadResponse moves some).
func fieldOf(r *http.Response, k string) string {
	switch {
	case k == "Connection" && r.Close:
		return "close"
	case k == "Transfer-Encoding" && len(r.TransferEncoding) > 0:
		return r.TransferEncoding[0]
	case k == "Content-Length" && r.Header.Get(k) == "" && r.ContentLength >= 0 && !r.Uncompressed && r.TransferEncoding == nil:
		if r.Request != nil && r.Request.Method == "HEAD" || r.StatusCode/100 != 1 && r.StatusCode != 204 && r.StatusCode != 304 {
			return strconv.FormatInt(r.ContentLength, 10)
		}
	}
	return r.Header.Get(k)
}
