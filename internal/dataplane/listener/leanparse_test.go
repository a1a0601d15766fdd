package listener

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// leanAccepted are heads leanParse must take, each equal to what readFull makes of it.
var leanAccepted = []string{
	"GET / HTTP/1.1\r\nHost: svc.example.com\r\n\r\n",
	"GET /index.html HTTP/1.1\r\nHost: svc.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
	"GET /api/v1/items?limit=10&offset=20 HTTP/1.1\r\nHost: svc.example.com:8443\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n",
	"GET /a/b/c.js HTTP/1.1\r\nHost: svc.example.com\r\nConnection: keep-alive\r\nsec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n" +
		"sec-ch-ua-mobile: ?0\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\nAccept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n" +
		"Sec-Fetch-Site: same-origin\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: a=b; c=d\r\nCookie: e=f\r\n" +
		"If-None-Match: W/\"abc\"\r\n\r\n",
	"HEAD / HTTP/1.1\r\nhost: svc.example.com\r\nX-A: 1\r\nx-a: 2\r\nX-B: 3\r\nX-a: 4\r\n\r\n",
	"GET / HTTP/1.1\r\nHOST: svc.example.com\r\nCONTENT-TYPE: text/plain\r\nx-FORWARDED-for: 10.0.0.1\r\nwww-authenticate: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: x\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n",
	"GET /? HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /?? HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x?a=b&c HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x?a=b? HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x?=&&== HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET //double//slash/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a!b'c(d)*e[f]g{h}|i^j`k\"l<m>n\\o HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a;b=c/d:e@f$g+h,i~j HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /../../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Spaces:    \r\nX-Tabs:\t\tv\t \t\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Inner: a \t b\r\nX-Obs-Text: caf\xc3\xa9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:svc.example.com\r\n\r\n",
	"POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
	"POST /submit HTTP/1.1\r\nHost: h\r\ncontent-length:  0 \r\n\r\n",
	"DELETE /r/1 HTTP/1.1\r\nHost: h\r\nTrailer: X\r\n\r\n",
	"OPTIONS / HTTP/1.1\r\nHost: h\r\n\r\n",
	"CONNECT /rpc HTTP/1.1\r\nHost: h\r\n\r\n",
	"PRI / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Before: 1\r\nHost: h\r\nx-before: 2\r\nCache-Control: no-store\r\nPragma: no-cache\r\n\r\n",
	"M-SEARCH! /x HTTP/1.1\r\nHost: h\r\n\r\n",
	"get / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nfoo-bar-baz: 1\r\n-x-: 2\r\n1abc: 3\r\nA--b: 4\r\n!#$%&'*+.^_`|~: 5\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n", // pipelined
}

// leanRefused are heads leanParse must leave to http.ReadRequest, by reason.
var leanRefused = map[string]string{
	"incomplete":               "GET / HTTP/1.1\r\nHost: h\r\n",
	"bare LF line ends":        "GET / HTTP/1.1\nHost: h\n\n",
	"bare LF in a field":       "GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\r\n",
	"bare CR in a value":       "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
	"no header":                "GET / HTTP/1.1\r\n\r\n",
	"HTTP/1.0 without Host":    "GET / HTTP/1.0\r\n\r\n",
	"two Hosts":                "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
	"invalid Host":             "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"HTTP/2.0":                 "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
	"HTTP/1.2":                 "GET / HTTP/1.2\r\nHost: h\r\n\r\n",
	"lower-case version":       "GET / http/1.1\r\nHost: h\r\n\r\n",
	"PRI":                      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"asterisk":                 "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"absolute form":            "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"authority form":           "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
	"percent":                  "GET /a%20b HTTP/1.1\r\nHost: h\r\n\r\n",
	"fragment":                 "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n",
	"non-ASCII target":         "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
	"tab in target":            "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n",
	"two spaces":               "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
	"trailing space":           "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
	"empty method":             " / HTTP/1.1\r\nHost: h\r\n\r\n",
	"method not a token":       "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n",
	"leading CRLF":             "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"obs-fold":                 "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
	"space before colon":       "GET / HTTP/1.1\r\nHost: h\r\nX : a\r\n\r\n",
	"empty name":               "GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n",
	"no colon":                 "GET / HTTP/1.1\r\nHost: h\r\nX a\r\n\r\n",
	"name not a token":         "GET / HTTP/1.1\r\nHost: h\r\nX(y): a\r\n\r\n",
	"non-ASCII name":           "GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: a\r\n\r\n",
	"NUL in value":             "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
	"DEL in value":             "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n",
	"Transfer-Encoding":        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"Content-Length 5":         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	"Content-Length 00":        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 00\r\n\r\n",
	"Content-Length +0":        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +0\r\n\r\n",
	"two Content-Length":       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n",
	"Content-Length list":      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0, 0\r\n\r\n",
	"Expect":                   "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
	"too many fields":          "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: 1\r\n", maxLeanFields) + "\r\n",
	"empty target query only?": "GET ? HTTP/1.1\r\nHost: h\r\n\r\n",
}

// fullRead reads head as readRequest does when leanParse refuses it: http.ReadRequest
// and the server's checks, all of head buffered.
func fullRead(t testing.TB, head []byte) (*http.Request, int, error) {
	t.Helper()
	hc := &hconn{nc: deadlineConn{}}
	hc.cr.r = bytes.NewReader(head)
	hc.cr.remain = unlimited
	hc.br = bufio.NewReaderSize(&hc.cr, 4<<10)
	if _, err := hc.br.Peek(1); err != nil {
		return nil, 0, err
	}
	buffered, _ := hc.br.Peek(hc.br.Buffered())
	req, err := hc.readFull(buffered)
	return req, len(head) - hc.br.Buffered(), err
}

// deadlineConn is the connection of fullRead: only its read deadline is set.
type deadlineConn struct{ net.Conn }

func (deadlineConn) SetReadDeadline(time.Time) error { return nil }

// reqView is what a handler can see of a request read off the connection.
type reqView struct {
	Method, Proto, Host, RequestURI string
	URL                             url.URL
	ProtoMajor, ProtoMinor          int
	Header, Trailer                 http.Header
	Close, NoBody, Form, GetBody    bool
	ContentLength                   int64
	TransferEncoding                []string
}

func view(r *http.Request) reqView {
	return reqView{
		Method: r.Method, Proto: r.Proto, Host: r.Host, RequestURI: r.RequestURI, URL: *r.URL,
		ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor, Header: r.Header, Trailer: r.Trailer,
		Close: r.Close, NoBody: r.Body == http.NoBody, Form: r.Form != nil || r.PostForm != nil || r.MultipartForm != nil,
		GetBody: r.GetBody != nil, ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding,
	}
}

type ctxKey struct{}

// checkLean parses head with leanParse and, when it accepts, requires the request and
// the consumed length readFull gives.
func checkLean(t testing.TB, head []byte) bool {
	t.Helper()
	parent := context.WithValue(context.Background(), ctxKey{}, "conn")
	// The connection's last head as after an earlier request: another one (not to be
	// shared), then this one (shared by the second parse, which must read the same).
	last := "GET /other HTTP/1.1\r\nHost: a.example\r\n\r\n"
	if string(head) == last {
		last = "GET /another HTTP/1.1\r\nHost: a.example\r\n\r\n"
	}
	first, cancel1, _ := leanParse(parent, head, &leanScratch{}, &last)
	if first == nil {
		return false
	}
	cancel1()
	got, cancel, n := leanParse(parent, head, &leanScratch{}, &last)
	if got == nil {
		t.Fatalf("leanParse took %q once, then refused it", head)
	}
	if diff := cmp.Diff(view(first), view(got)); diff != "" {
		t.Fatalf("request of %q, parsed again with the head shared (-first +again):\n%s", head, diff)
	}
	want, wantN, err := fullRead(t, head)
	if err != nil {
		t.Fatalf("leanParse took %q, readFull refused it: %v", head, err)
	}
	if diff := cmp.Diff(view(want), view(got)); diff != "" {
		t.Fatalf("request of %q (-readFull +leanParse):\n%s", head, diff)
	}
	if n != wantN {
		t.Fatalf("leanParse consumed %d bytes of %q, readFull %d", n, head, wantN)
	}
	for k, vv := range got.Header {
		if cap(vv) != len(vv) {
			t.Fatalf("%s: cap %d > len %d: an append would overwrite another field", k, cap(vv), len(vv))
		}
	}
	ctx := got.Context()
	if ctx.Value(ctxKey{}) != "conn" || ctx.Err() != nil {
		t.Fatalf("request context does not derive from the parent")
	}
	cancel()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("cancel did not cancel the request's context")
	}
	return true
}

func TestLeanParseMatchesReadRequest(t *testing.T) {
	for _, head := range leanAccepted {
		if !checkLean(t, []byte(head)) {
			t.Errorf("leanParse refused %q", head)
		}
	}
}

func TestLeanParseRefuses(t *testing.T) {
	for reason, head := range leanRefused {
		if req, _, _ := leanParse(context.Background(), []byte(head), &leanScratch{}, new(string)); req != nil {
			t.Errorf("%s: leanParse took %q", reason, head)
		}
	}
}

func FuzzLeanParse(f *testing.F) {
	for _, head := range leanAccepted {
		f.Add([]byte(head))
	}
	for _, head := range leanRefused {
		f.Add([]byte(head))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		if len(head) > 4<<10 {
			return // never all buffered in the connection's bufio.Reader
		}
		checkLean(t, head)
	})
}

// FuzzLeanParseParts is FuzzLeanParse with the head assembled from a request line and
// '\n'-separated fields, so that mutations mostly keep a head leanParse takes.
func FuzzLeanParseParts(f *testing.F) {
	for _, head := range leanAccepted {
		line, rest, _ := strings.Cut(head, "\r\n")
		fields, _, _ := strings.Cut(rest, "\r\n\r\n")
		f.Add(line, strings.ReplaceAll(fields, "\r\n", "\n"))
	}
	f.Fuzz(func(t *testing.T, line, fields string) {
		head := line + "\r\n" + strings.ReplaceAll(fields, "\n", "\r\n") + "\r\n\r\n"
		if len(head) > 4<<10 {
			return
		}
		checkLean(t, []byte(head))
	})
}

// BenchmarkLeanParse compares leanParse with http.ReadRequest (+ WithContext, as
// serveRequest adds for it) on a curl-like head.
func BenchmarkLeanParse(b *testing.B) {
	head := []byte(leanAccepted[1])
	b.Run("lean", func(b *testing.B) {
		l := &Listener{}
		b.ReportAllocs()
		for b.Loop() {
			sc := l.getLean()
			req, cancel, _ := leanParse(context.Background(), head, sc, new(string))
			cancel()
			_ = req
			l.putLean(sc)
		}
	})
	b.Run("ReadRequest", func(b *testing.B) {
		br := bufio.NewReader(nil)
		b.ReportAllocs()
		for b.Loop() {
			br.Reset(bytes.NewReader(head))
			req, err := http.ReadRequest(br)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			_ = req.WithContext(ctx)
			cancel()
		}
	})
}

// TestPutLeanClearsEverything: a scratch given back holds nothing of its request, and one
// whose map grew large is not pooled.
func TestPutLeanClearsEverything(t *testing.T) {
	l := &Listener{}
	sc := l.getLean()
	req, cancel, _ := leanParse(context.Background(), []byte("GET /secret?token=1 HTTP/1.1\r\nHost: a.example\r\n"+
		"Authorization: secret-1\r\nCookie: secret-2\r\n\r\n"), sc, new(string))
	cancel()
	if req == nil || req.Header.Get("Cookie") != "secret-2" {
		t.Fatalf("leanParse: %v", req)
	}
	l.putLean(sc)
	if len(sc.header) != 0 {
		t.Errorf("header map kept %v", sc.header)
	}
	for i, v := range sc.vals[:cap(sc.vals)] {
		if v != "" {
			t.Errorf("vals[%d] kept %q", i, v)
		}
	}
	if sc.url != (url.URL{}) {
		t.Errorf("URL kept %#v", sc.url)
	}
	if sc.req.Method != "" || sc.req.URL != nil || sc.req.Header != nil || sc.req.Host != "" || sc.req.RequestURI != "" || sc.req.Context() != context.Background() {
		t.Errorf("request kept %+v", sc.req)
	}

	for i := range maxLeanScratchFields + 1 {
		sc.header[fmt.Sprint("X-", i)] = nil
	}
	l.putLean(sc)
	if len(sc.header) != maxLeanScratchFields+1 {
		t.Fatalf("a large scratch was cleared (pooled)")
	}
}
