package upstream

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// scriptedUpstream answers every request with the raw response of the current case and
// records the raw request heads it received.
type scriptedUpstream struct {
	addr  string
	mu    sync.Mutex
	resp  string
	got   []string
	conns int // connections accepted
}

func newScriptedUpstream(t *testing.T) *scriptedUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	u := &scriptedUpstream{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.conns++
			u.mu.Unlock()
			go u.serve(c)
		}
	}()
	return u
}

// setResp sets the response the upstream answers with; connections still open from an
// earlier case read it concurrently.
func (u *scriptedUpstream) setResp(s string) {
	u.mu.Lock()
	u.resp = s
	u.mu.Unlock()
}

func (u *scriptedUpstream) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var head bytes.Buffer
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		u.mu.Lock()
		u.got = append(u.got, head.String())
		resp := u.resp
		u.mu.Unlock()
		if _, err := io.WriteString(c, resp); err != nil || strings.Contains(resp, "Connection: close") || strings.HasPrefix(resp, "HTTP/1.0") {
			return
		}
	}
}

// exchangeVia sends r through the lean path (lean) or straight through ReverseProxy, and
// returns the request head the upstream received and the response the client got.
func exchangeVia(t *testing.T, p *Proxy, u *scriptedUpstream, lean bool, build func() (*http.Request, *Target)) (string, *httptest.ResponseRecorder) {
	t.Helper()
	r, tg := build()
	tg.Endpoint = u.addr
	if got := leanRequest(r, tg); lean && !got {
		t.Fatalf("request does not take the lean path")
	}
	rec := httptest.NewRecorder()
	if lean {
		p.forwardLean(rec, r, tg)
	} else {
		p.rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), targetKey{}, tg)))
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	last := ""
	if len(u.got) > 0 {
		last = u.got[len(u.got)-1]
	}
	return last, rec
}

func inbound(method, target string, hdr map[string][]string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "192.0.2.7:4711"
	for k, vv := range hdr {
		r.Header[k] = vv
	}
	return r
}

// TestLeanMatchesReverseProxy: the lean path sends the upstream the very bytes
// ReverseProxy + Request.Write send, and gives the client the same status, header and
// body, for every request and response shape it handles or hands back.
func TestLeanMatchesReverseProxy(t *testing.T) {
	u := newScriptedUpstream(t)
	p := NewProxy(Options{}, slog.New(slog.DiscardHandler))
	t.Cleanup(p.CloseIdleConnections)
	ok := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
	requests := []struct {
		name  string
		build func() (*http.Request, *Target)
	}{
		{"plain", func() (*http.Request, *Target) {
			return inbound("GET", "http://a.example/p?q=1", map[string][]string{"User-Agent": {"curl/8"}, "Accept": {"*/*"}}), &Target{}
		}},
		{"no user agent, repeated header", func() (*http.Request, *Target) {
			return inbound("GET", "http://a.example/", map[string][]string{"Accept": {"a", "b"}, "X-Trim": {" v "}}), &Target{}
		}},
		{"hop-by-hop and Connection-named", func() (*http.Request, *Target) {
			return inbound("GET", "http://a.example/", map[string][]string{"Connection": {"X-Secret, user-agent"},
				"X-Secret": {"s"}, "User-Agent": {"ua"}, "Keep-Alive": {"timeout=5"}, "Proxy-Authorization": {"Basic x"},
				"Proxy-Connection": {"keep-alive"}, "Te": {"gzip, trailers"}}), &Target{}
		}},
		{"forwarding headers replaced", func() (*http.Request, *Target) {
			return inbound("GET", "https://a.example/", map[string][]string{"X-Forwarded-For": {"6.6.6.6"}, "Forwarded": {"for=6.6.6.6"},
					"X-Forwarded-Host": {"evil"}, "X-Forwarded-Proto": {"http"}, HeaderXFCC: {"forged"}, "X_forwarded_client_cert": {"forged"}}),
				&Target{ClientCert: `Hash=ab;Subject="CN=client"`}
		}},
		{"rewrites", func() (*http.Request, *Target) {
			return inbound("HEAD", "http://a.example/old/x?k=v&z", nil), &Target{Path: "/new dir/x", Authority: "b.internal:8080"}
		}},
		{"header operations", func() (*http.Request, *Target) {
			return inbound("GET", "http://a.example/", map[string][]string{"X-Remove": {"1"}, "X-Set": {"old"}, "X-Add": {"first"}}),
				&Target{RequestHeaders: &snapshot.HeaderOps{Remove: []string{"x-remove"}, Set: map[string]string{"x-set": "new", "X-New": "n"},
					Add: map[string]string{"x-add": "second", "X-Added": "a"}}}
		}},
	}
	u.setResp(ok)
	for _, rq := range requests {
		t.Run("request/"+rq.name, func(t *testing.T) {
			want, wrec := exchangeVia(t, p, u, false, rq.build)
			got, grec := exchangeVia(t, p, u, true, rq.build)
			if got != want {
				t.Errorf("upstream got\n%q\nwant (ReverseProxy)\n%q", got, want)
			}
			compareResponses(t, grec, wrec)
		})
	}

	responses := []struct{ name, raw string }{
		{"content length", ok},
		{"no content", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"},
		{"not modified", "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\nContent-Length: 10\r\n\r\n"},
		{"hop-by-hop", "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nContent-Length: 2\r\n\r\nok"},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"},
		{"repeated and odd-case names", "HTTP/1.1 201 Created\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nCONTENT-type: text/x\r\nx-lower:v  \r\nContent-Length: 0\r\n\r\n"},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold"},
		{"chunked with trailer (ReverseProxy)", "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n"},
		{"early hints (ReverseProxy)", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"close-delimited (ReverseProxy)", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"},
		{"event stream (ReverseProxy)", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 7\r\n\r\ndata:1\n"},
		{"bare LF (ReverseProxy)", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"},
		{"bad content length", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok"},
		{"conflicting content lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nok"},
	}
	for _, rs := range responses {
		t.Run("response/"+rs.name, func(t *testing.T) {
			u.setResp(rs.raw)
			for _, method := range []string{"GET", "HEAD"} {
				build := func() (*http.Request, *Target) {
					return inbound(method, "http://a.example/", nil), &Target{ResponseHeaders: &snapshot.HeaderOps{Set: map[string]string{"X-Via": "gw"}}}
				}
				_, wrec := exchangeVia(t, p, u, false, build)
				_, grec := exchangeVia(t, p, u, true, build)
				compareResponses(t, grec, wrec)
			}
		})
	}
}

func compareResponses(t *testing.T, got, want *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code || got.Body.String() != want.Body.String() {
		t.Errorf("client got %d %q, want (ReverseProxy) %d %q", got.Code, got.Body.String(), want.Code, want.Body.String())
	}
	if diff := cmp.Diff(want.Header(), got.Header()); diff != "" {
		t.Errorf("client header (-ReverseProxy +lean):\n%s", diff)
	}
}
