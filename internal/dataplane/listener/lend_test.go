package listener

import (
	"net/http/httptest"
	"testing"
)

// TestResponseLendsValuesOncePerRequest: a connection's response lends its values array
// once per request, and the next request (reset) or the idle connection (idle) finds it
// empty again, so no value of one response is held by the connection or seen by the next.
func TestResponseLendsValuesOncePerRequest(t *testing.T) {
	hc := &hconn{l: &Listener{}}
	w := &hc.res
	w.hc = hc
	for round := range 3 {
		w.reset(httptest.NewRequest("GET", "/", nil))
		if w.vals != [lentValues]string{} {
			t.Fatalf("round %d: values kept from the last response: %q", round, w.vals)
		}
		if w.HeaderValues(lentValues+1) != nil {
			t.Fatalf("round %d: lent more than lentValues", round)
		}
		lent := w.HeaderValues(2)
		if len(lent) != 2 || cap(lent) != 2 {
			t.Fatalf("round %d: lent %d values (cap %d), want 2 (cap 2)", round, len(lent), cap(lent))
		}
		lent[0], lent[1] = "secret", "value"
		if w.HeaderValues(1) != nil {
			t.Fatalf("round %d: values lent twice in one response", round)
		}
		if round == 2 {
			w.idle()
			if w.vals != [lentValues]string{} || w.valsLent {
				t.Fatalf("idle connection keeps lent values %q", w.vals)
			}
		}
	}
}
