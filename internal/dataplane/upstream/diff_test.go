package upstream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The differential: one script of exchanges on one backend, run once through the lean
// client (Proxy.Forward) and once through httputil.ReverseProxy over a stock
// http.Transport (the reference), each against its own copy of the backend. What each
// client receives (status, header, body), which backend connection each request arrives
// on (reuse), and the request heads must be the same; the lean client must leave no
// socket open. See docs/design/0009-upstream-client-vs-transport.md.

// exchangeStep is one request of a script and the backend's answer to it.
type exchangeStep struct {
	Method string
	step
}

// outcome is what one client received for one request.
type outcome struct {
	Status int
	Header http.Header
	Body   string
}

// modelled is what http.ReadResponse, reading as http.Transport does, makes of the bytes
// a backend writes for one request.
type modelled struct {
	n1xx      int  // informational responses before the final one
	badStatus bool // a final status outside 100-999, which the reference passes to WriteHeader (a panic)
	switched  bool // a 101: the reference hands the connection to ReverseProxy, which keeps it
	broken    bool // no complete, well-framed response: only the backend's close ends it
	leftover  bool // bytes beyond the response: the connection cannot be reused
	closeable bool // the final response says the connection closes
}

func model(raw, method string) modelled {
	var m modelled
	sr := strings.NewReader(raw)
	br := bufio.NewReader(sr)
	req, _ := http.NewRequest(method, "http://a.example/", nil)
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			m.broken = true
			return m
		}
		if resp.StatusCode < 100 || resp.StatusCode > 999 {
			m.badStatus = true
			return m
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			m.switched = true
			return m
		}
		if resp.StatusCode >= 200 {
			_, err := io.Copy(io.Discard, resp.Body)
			closeDelimited := resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 && resp.Body != http.NoBody
			m.broken = err != nil || closeDelimited
			m.leftover = br.Buffered()+sr.Len() > 0
			m.closeable = resp.Close
			return m
		}
		m.n1xx++
	}
}

// normalize makes a script deterministic: a response that only a close can end is
// followed by the close (instead of idling until a timeout), a reset only ever replaces
// an answer (a reset right after data may discard it in the client's kernel), and late
// bytes follow only complete responses. A retried request (after a reset) shifts the
// steps by one, so each is made safe for either method. The script ends before a known
// difference: a 1xx flood (the lean client refuses more than five informational
// responses, the reference forwards any number) or a status outside 100-999 (the lean
// client answers 503, the reference panics in WriteHeader). No answer at all is kept only
// for the first request: on a reused connection http.Transport retries such a request or
// fails it depending on which of its goroutines sees the failure first (the lean client
// always replays it once: TestLeanReplaysOnStaleConnection); later ones answer a partial
// head and close instead, which both fail without a retry.
func normalize(s []exchangeStep) []exchangeStep {
	for i := range s {
		if m := model(s[i].Resp, http.MethodGet); m.n1xx > max1xxResponses || m.badStatus {
			return s[:i]
		}
	}
	for i := range s {
		m, mh := model(s[i].Resp, http.MethodGet), model(s[i].Resp, http.MethodHead)
		m.broken, m.switched = m.broken || mh.broken, m.switched || mh.switched
		if s[i].Resp == "" && i > 0 {
			s[i].Resp, s[i].End = "HTTP/1.1 2", closeConn
			m.broken = true
		}
		if s[i].End == resetConn && s[i].Resp != "" {
			s[i].End = closeConn
		}
		if s[i].End == stall {
			s[i].End = closeConn
		}
		if m.broken || m.switched {
			s[i].Late = ""
			if s[i].End == keepOpen {
				s[i].End = closeConn
			}
		}
	}
	return s
}

type client interface {
	forward(w http.ResponseWriter, r *http.Request, t *Target)
	close()
}

type leanClient struct{ p *Proxy }

func (c leanClient) forward(w http.ResponseWriter, r *http.Request, t *Target) { c.p.Forward(w, r, t) }
func (c leanClient) close()                                                    { c.p.CloseIdleConnections() }

type refClient struct {
	rp *httputil.ReverseProxy
	tr *http.Transport
}

func (c refClient) forward(w http.ResponseWriter, r *http.Request, t *Target) {
	c.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, t)))
}
func (c refClient) close() { c.tr.CloseIdleConnections() }

const diffHeaderTimeout = 5 * time.Second // never reached by a normalized script: a safety net

func newLeanClient(t testing.TB) (client, *dialTracker) {
	p, d := newTrackedProxy(t, Options{ResponseHeaderTimeout: diffHeaderTimeout})
	return leanClient{p}, d
}

// newRefClient is ReverseProxy over http.Transport with the proxy's own rewrite, response
// modifier, buffers and error handler: only the round tripper differs.
func newRefClient(t testing.TB) (client, *dialTracker) {
	p := NewProxy(Options{}, slog.New(slog.DiscardHandler))
	d := &dialTracker{}
	tr := &http.Transport{DialContext: d.wrap((&net.Dialer{}).DialContext), DisableCompression: true,
		ResponseHeaderTimeout: diffHeaderTimeout, MaxIdleConnsPerHost: 64}
	rp := &httputil.ReverseProxy{Rewrite: rewrite, Transport: tr, BufferPool: &bufferPool{},
		ModifyResponse: modifyResponse, ErrorHandler: p.errorHandler, ErrorLog: log.New(io.Discard, "", 0)}
	t.Cleanup(tr.CloseIdleConnections)
	return refClient{rp, tr}, d
}

// runScript runs script through c against a fresh backend and returns what the client
// received per request, the connection index of every request the backend received, and
// the request heads.
func runScript(t testing.TB, c client, d *dialTracker, ref bool, script []exchangeStep) ([]outcome, []int, []string) {
	steps := make([]step, len(script))
	for i, s := range script {
		steps[i] = s.step
	}
	b := newScriptBackend(t, steps)
	var outs []outcome
	for i, s := range script {
		before := len(b.requests())
		// A last resort against a hang (a normalized script never needs it).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r := httptest.NewRequest(s.Method, "http://a.example/"+string(rune('a'+i)), nil).WithContext(ctx)
		r.RemoteAddr = "192.0.2.7:4711"
		rec := httptest.NewRecorder()
		if p := forwardRecover(c, rec, r, &Target{Endpoint: b.addr}); p != nil {
			// Both clients pass a status such as 000 to WriteHeader, which panics.
			outs = append(outs, outcome{Status: -1, Body: fmt.Sprint(p)})
		} else {
			res := rec.Result()
			outs = append(outs, outcome{Status: res.StatusCode, Header: res.Header, Body: rec.Body.String()})
		}
		cancel()
		reqs := b.requests()
		if len(reqs) == before {
			continue
		}
		last := len(reqs) - 1
		b.writeLate(last)
		if ref {
			// http.Transport closes a connection with unsolicited bytes on its readLoop,
			// racing with the next request's pick of an idle connection: wait for the close
			// so the reference is deterministic. (The lean client checks synchronously.)
			st := step{Resp: "unscripted"} // what the backend did for this request
			if last < len(steps) {
				st = steps[last]
			}
			m := model(st.Resp+st.Late, s.Method)
			if last < len(steps) && !m.switched && (m.leftover || m.broken || st.End != keepOpen) {
				waitClientClose(t, b, d, last)
			}
		}
	}
	c.close()
	b.mu.Lock()
	heads := append([]string(nil), b.heads...)
	b.mu.Unlock()
	return outs, b.requests(), heads
}

func forwardRecover(c client, w http.ResponseWriter, r *http.Request, t *Target) (p any) {
	defer func() { p = recover() }()
	c.forward(w, r, t)
	return nil
}

// waitClientClose waits until the client closed its end of request i's connection.
func waitClientClose(t testing.TB, b *scriptBackend, d *dialTracker, i int) {
	b.mu.Lock()
	local := b.conns[b.reqs[i]].RemoteAddr().String()
	b.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		var tc *trackedConn
		for _, c := range d.conns {
			if c.LocalAddr().String() == local {
				tc = c
			}
		}
		d.mu.Unlock()
		if tc == nil || tc.closed.Load() {
			return
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	t.Fatalf("the reference client kept connection %d open after unsolicited bytes or a close", b.reqs[i])
}

// compareClients runs script through both clients and fails on any difference.
func compareClients(t testing.TB, script []exchangeStep) {
	t.Helper()
	script = normalize(script)
	lc, ld := newLeanClient(t)
	rc, rd := newRefClient(t)
	got, gotConns, gotHeads := runScript(t, lc, ld, false, script)
	want, wantConns, wantHeads := runScript(t, rc, rd, true, script)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("what the client received (-Transport +lean):\n%s", diff)
	}
	if diff := cmp.Diff(wantConns, gotConns); diff != "" {
		t.Fatalf("backend connection of each request (-Transport +lean):\n%s", diff)
	}
	if diff := cmp.Diff(wantHeads, gotHeads); diff != "" {
		t.Fatalf("request heads (-Transport +lean):\n%s", diff)
	}
	if n := ld.open(); n != 0 {
		t.Fatalf("lean client left %d of %d upstream connections open", n, len(ld.conns))
	}
}
