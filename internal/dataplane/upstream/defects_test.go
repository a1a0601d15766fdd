package upstream

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newTrackedProxy is a proxy whose upstream connections are tracked (see dialTracker).
func newTrackedProxy(t testing.TB, opts Options) (*Proxy, *dialTracker) {
	t.Helper()
	p := NewProxy(opts, slog.New(slog.DiscardHandler))
	d := &dialTracker{}
	p.transport.dial = d.wrap(p.transport.dial)
	t.Cleanup(p.CloseIdleConnections)
	return p, d
}

func forwardTo(p *Proxy, method, addr, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://a.example"+path, nil).WithContext(context.Background())
	rec := httptest.NewRecorder()
	p.Forward(rec, r, &Target{Endpoint: addr})
	return rec
}

// TestLeanBodyOverHeadLimit: a body longer than the response-head read limit (10 MiB)
// reaches the client whole. The lean path used to re-arm the head limit before copying
// the body, cutting it at 10 MiB minus what the head read had buffered.
func TestLeanBodyOverHeadLimit(t *testing.T) {
	const size = 12 << 20
	body := strings.Repeat("x", size)
	b := newScriptBackend(t, []step{
		{Resp: "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n" + body},
		{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	})
	p, d := newTrackedProxy(t, Options{})
	rec := forwardTo(p, "GET", b.addr, "/big")
	if rec.Code != 200 || rec.Body.Len() != size {
		t.Fatalf("status %d, %d body bytes; want 200, %d", rec.Code, rec.Body.Len(), size)
	}
	if rec := forwardTo(p, "GET", b.addr, "/"); rec.Body.String() != "ok" {
		t.Fatalf("second request: %d %q", rec.Code, rec.Body.String())
	}
	if got := b.requests(); len(got) != 2 || got[1] != 0 {
		t.Fatalf("requests on connections %v, want [0 0] (reused after the long body)", got)
	}
	p.CloseIdleConnections()
	if n := d.open(); n != 0 {
		t.Fatalf("%d upstream connections left open", n)
	}
}

// TestLeanNeverReusesDirtyConnection: bytes that arrive on a pooled connection after a
// complete response (a late body to HEAD, 204 or 304; more body than Content-Length) are
// not the next request's response. The connection is closed, never reused, and the next
// request gets its own answer on a new connection — the desync a recently used connection
// was open to because it was reused without a look.
func TestLeanNeverReusesDirtyConnection(t *testing.T) {
	const attack = "HTTP/1.1 200 OK\r\nSet-Cookie: session=attacker\r\nContent-Length: 8\r\n\r\nattacker"
	own := step{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nmine"}
	for _, tc := range []struct {
		name, method string
		first        step
	}{
		{"late body after HEAD", "HEAD", step{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n", Late: attack}},
		{"late body after 204", "GET", step{Resp: "HTTP/1.1 204 No Content\r\n\r\n", Late: attack}},
		{"late body after 304", "GET", step{Resp: "HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\n\r\n", Late: attack}},
		{"more than Content-Length, late", "GET", step{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Late: attack}},
		{"more than Content-Length, at once", "GET", step{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + attack}},
		{"closed while idle", "GET", step{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Late: "", End: closeConn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newScriptBackend(t, []step{tc.first, own, own})
			p, d := newTrackedProxy(t, Options{})
			forwardTo(p, tc.method, b.addr, "/first")
			b.writeLate(0)
			// closed while idle: whether the FIN arrived before the second request (the
			// idle check drops the connection) or after (the GET is replayed on a new
			// one), the second request is answered on a new connection.
			rec := forwardTo(p, "GET", b.addr, "/second")
			if rec.Code != 200 || rec.Body.String() != "mine" || rec.Header().Get("Set-Cookie") != "" {
				t.Fatalf("second client got %d %q %v; want 200 \"mine\" without the first exchange's leftovers", rec.Code, rec.Body.String(), rec.Header())
			}
			if got := b.requests(); len(got) != 2 || got[1] == got[0] {
				t.Fatalf("requests on connections %v: the dirty connection was reused", got)
			}
			p.CloseIdleConnections()
			if n := d.open(); n != 0 {
				t.Fatalf("%d upstream connections left open", n)
			}
		})
	}
}

// TestLeanHandoffFailureClosesUpstream: a response the lean path hands to ReverseProxy and
// that then fails (bad framing, 101 without upgrade, too many 1xx, a head that never
// ends) closes its upstream connection at once instead of leaving it to the collector.
func TestLeanHandoffFailureClosesUpstream(t *testing.T) {
	oversized := "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 5000) + "\r\n" // > the 4 KiB buffer, never ends
	for _, tc := range []struct {
		name string
		s    step
		want int
	}{
		{"bad content length", step{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok"}, 503},
		{"101 without upgrade", step{Resp: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"}, 503},
		{"too many 1xx", step{Resp: strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 8)}, 103}, // the recorder keeps the first 1xx
		{"header timeout", step{Resp: oversized, End: stall}, 504},
		{"status 000", step{Resp: "HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n"}, 503}, // ReverseProxy would panic in WriteHeader
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 20
			steps := make([]step, n)
			for i := range steps {
				steps[i] = tc.s
			}
			b := newScriptBackend(t, steps)
			p, d := newTrackedProxy(t, Options{ResponseHeaderTimeout: 100 * time.Millisecond})
			for i := range n {
				if rec := forwardTo(p, "GET", b.addr, "/"); rec.Code != tc.want {
					t.Fatalf("request %d: status %d, want %d", i, rec.Code, tc.want)
				}
			}
			if open := d.open(); open != 0 {
				t.Fatalf("%d of %d upstream connections left open after failed exchanges", open, len(d.conns))
			}
		})
	}
}

// TestIdleSweepClosesDirtyConnections: an idle pooled connection that the upstream closes
// or sends unsolicited bytes on is closed by the sweep, without waiting for a reuse or the
// idle timeout (http.Transport's readLoop closes it at once).
func TestIdleSweepClosesDirtyConnections(t *testing.T) {
	const attack = "HTTP/1.1 200 OK\r\nSet-Cookie: session=attacker\r\nContent-Length: 8\r\n\r\nattacker"
	for _, tc := range []struct {
		name string
		s    step
	}{
		{"late bytes", step{Resp: "HTTP/1.1 204 No Content\r\n\r\n", Late: attack}},
		{"closed by the upstream", step{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Late: "", End: closeConn}},
		{"clean", step{Resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newScriptBackend(t, []step{tc.s})
			p, d := newTrackedProxy(t, Options{})
			p.transport.sweepEvery = 10 * time.Millisecond
			forwardTo(p, "GET", b.addr, "/")
			b.writeLate(0)
			if tc.name == "clean" {
				time.Sleep(50 * time.Millisecond) // several sweeps
				c := p.transport.pop(idleKey{addr: b.addr})
				if c == nil {
					t.Fatal("the sweep closed a clean idle connection")
				}
				c.nc.Close()
				return
			}
			if n := d.open(); n != 0 {
				t.Fatalf("%d idle upstream connections still open", n)
			}
		})
	}
}

// TestRefusedUpgradeClosesUpstream: a 101 for another protocol than the one requested is
// refused (503) and its upstream connection closed. ReverseProxy alone answers the error
// but never closes that response's body: one socket per such response until the collector
// finalizes it.
func TestRefusedUpgradeClosesUpstream(t *testing.T) {
	const n = 5
	steps := make([]step, n)
	for i := range steps {
		steps[i] = step{Resp: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c-other\r\n\r\n"}
	}
	b := newScriptBackend(t, steps)
	p, _ := newTrackedProxy(t, Options{})
	d := &dialTracker{}
	p.transport.fallback.DialContext = d.wrap(p.transport.fallback.DialContext)
	for i := range n {
		r := httptest.NewRequest("GET", "http://a.example/ws", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		rec := httptest.NewRecorder()
		p.Forward(rec, r, &Target{Endpoint: b.addr})
		if rec.Code != 503 {
			t.Fatalf("request %d: status %d, want 503", i, rec.Code)
		}
	}
	if open := d.open(); open != 0 {
		t.Fatalf("%d of %d upstream connections left open after refused upgrades", open, len(d.conns))
	}
}
