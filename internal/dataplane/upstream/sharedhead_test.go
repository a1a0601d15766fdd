package upstream

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"
)

// TestSharedHeadFollowsEveryResponse: on one pooled connection, responses that differ
// from the previous one in a single byte of a value (same length), or not at all, each
// reach the client with their own fields. fillHeader shares the previous head's string
// only when the bytes are equal; a comparison that looked at less (the length, the
// first field) would hand a response the previous one's value.
func TestSharedHeadFollowsEveryResponse(t *testing.T) {
	u := newScriptedUpstream(t)
	p := NewProxy(Options{}, slog.New(slog.DiscardHandler))
	t.Cleanup(p.CloseIdleConnections)
	build := func() (*http.Request, *Target) {
		return inbound("GET", "http://a.example/", nil), &Target{}
	}
	var kept []http.Header
	for i, v := range []string{"a", "a", "b", "b", "a", "c", "c", "a"} {
		u.setResp(fmt.Sprintf("HTTP/1.1 200 OK\r\nX-N: %s\r\nX-I: %d\r\nContent-Length: 2\r\n\r\nok", v, i%2))
		_, rec := exchangeVia(t, p, u, true, build)
		if got := rec.Header().Get("X-N"); got != v || rec.Header().Get("X-I") != fmt.Sprint(i%2) || rec.Body.String() != "ok" {
			t.Fatalf("response %d: X-N %q X-I %q body %q, want X-N %q X-I %d", i, got, rec.Header().Get("X-I"), rec.Body.String(), v, i%2)
		}
		kept = append(kept, rec.Header())
	}
	// Headers kept past their request (as an access log keeps strings) are unchanged.
	for i, h := range kept {
		if want := []string{"a", "a", "b", "b", "a", "c", "c", "a"}[i]; h.Get("X-N") != want {
			t.Fatalf("response %d's header changed afterwards: X-N %q, want %q", i, h.Get("X-N"), want)
		}
	}
	u.mu.Lock()
	n, conns := len(u.got), u.conns
	u.mu.Unlock()
	if n != 8 || conns != 1 {
		t.Fatalf("upstream saw %d requests on %d connections, want 8 on the one they shared", n, conns)
	}
}

// TestFillHeaderSharesEqualHead: a head equal to the connection's last makes no string;
// only the values' backing array is allocated.
func TestFillHeaderSharesEqualHead(t *testing.T) {
	head := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\n")
	h, ok := parseHead(head, false)
	if !ok {
		t.Fatal("head not accepted")
	}
	var last string
	hdr := http.Header{}
	fillHeader(hdr, head, h, &last, nil)
	if allocs := testing.AllocsPerRun(100, func() {
		clear(hdr)
		fillHeader(hdr, head, h, &last, nil)
	}); allocs != 1 {
		t.Fatalf("%v allocations per equal head, want 1 (the values)", allocs)
	}
}
