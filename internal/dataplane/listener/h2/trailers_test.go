package h2

import (
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResponseTrailerNames: trailer names a handler declares (Trailer header) or sets
// with http.TrailerPrefix are validated as x/net does (declareTrailer): names RFC 9110
// 6.5.1 forbids in trailers (httpguts.ValidTrailerHeader: Content-Length, Host, ...)
// and invalid field names are dropped, the others sent. Compared with x/net running
// the same handler.
func TestResponseTrailerNames(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Declared, Host, Transfer-Encoding")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "body")
		w.(http.Flusher).Flush() // the trailers come in a HEADERS of their own
		w.Header().Set("X-Declared", "1")
		w.Header().Set("Host", "evil.test")
		w.Header().Set("Transfer-Encoding", "chunked")
		w.Header().Set(http.TrailerPrefix+"X-Prefixed", "2")
		w.Header().Set(http.TrailerPrefix+"Content-Length", "100")
		w.Header().Set(http.TrailerPrefix+"Authorization", "secret")
		w.Header().Set(http.TrailerPrefix+"Bad Name", "3")
	})
	var servers sync.WaitGroup
	t.Cleanup(servers.Wait)
	steps := []step{hdr(1, true, req()...)}
	ours, _ := runDiff(oursWith(h), steps, &servers)
	theirs, _ := runDiff(xnetWith(h), steps, &servers)
	if d := cmp.Diff(theirs, ours); d != "" {
		t.Errorf("trailers differ from x/net's (-x/net +ours):\n%s", d)
	}
	want := "TRAILERS x-declared=1 x-prefixed=2 END"
	if evs := ours.Streams[1]; len(evs) == 0 || evs[len(evs)-1] != want {
		t.Errorf("stream 1: %q, want it to end with %q", evs, want)
	}
}
