package h2

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2"
)

// The differential: the same frame sequence is played against our server and against
// x/net's http2.Server (the version in go.mod, running: an x/net upgrade that adds a
// check we lack fails here), both serving diffHandler on a net.Pipe, and their
// outcomes must match. What an outcome keeps, and so what is compared:
//
//   - the error codes of the GOAWAY frames, in order (not their last stream id: it is
//     advisory, and x/net raises it to the stream id of a frame that failed);
//   - per stream, in order: response HEADERS (status and fields; not date, which is the
//     time, nor 1xx responses, whose timing is the handler's first body read and which
//     x/net also sends for a request that has already ended), the DATA payload
//     (consecutive frames joined: how a body is cut into frames is the server's
//     choice) and END_STREAM, RST_STREAM codes;
//   - how many SETTINGS ACKs were sent and which PINGs were acknowledged.
//
// Not compared: the order of frames across streams (handlers run concurrently), the
// server's SETTINGS values and WINDOW_UPDATEs (each server's own limits and window
// policy), and whether the connection is closed yet (x/net closes it right after a
// GOAWAY with an error, we linger to let it be read).
//
// x/net answers a request with connection-specific fields or a te other than
// "trailers" with 400 from a handler of its own; we reset it with PROTOCOL_ERROR
// (design 0006). Both count as "refused" (normalize). The differences we keep on
// purpose are listed in keptDiffs.

// outcome is one server's answers, normalized.
type outcome struct {
	GoAway       []string
	SettingsAcks int
	Pings        []string
	Streams      map[uint32][]string
	Notes        []string // waits that ran out (a server never sent what was waited for)
}

// diffHandler reads the whole body, then answers with a summary of the request as the
// handler saw it, so that differences in what reaches a handler (Host, header map,
// body, trailers) show in the response.
func diffHandler(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s host=%q uri=%q body=%d err=%v", r.Method, r.Host, r.RequestURI, n, err != nil)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, " %s=%q", k, r.Header[k])
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Trailer {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, " trailer:%s=%q", k, r.Trailer[k])
	}
	w.Header().Set("X-Seen", strconv.Quote(b.String()))
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "2")
	_, _ = io.WriteString(w, "ok")
}

// responseHeaders is the normalized form of a response HEADERS frame; "" for 1xx.
func responseHeaders(f *http2.MetaHeadersFrame) string {
	st := f.PseudoValue("status")
	if strings.HasPrefix(st, "1") {
		return ""
	}
	var fs []string
	for _, hf := range f.RegularFields() {
		if hf.Name != "date" {
			fs = append(fs, hf.Name+"="+hf.Value)
		}
	}
	slices.Sort(fs)
	ev := "HEADERS " + st
	if st == "" {
		ev = "TRAILERS"
	}
	ev += " " + strings.Join(fs, " ")
	if f.StreamEnded() {
		ev += " END"
	}
	return ev
}

// normalize joins consecutive DATA payloads, drops 1xx responses and maps the two
// forms of a refused malformed request (x/net's 400, then its body and the
// RST_STREAM(NO_ERROR) that stops the client; our RST_STREAM(PROTOCOL_ERROR)) to one.
func (o *outcome) normalize() {
	for id, evs := range o.Streams {
		var out []string
		refused := false // skipping the rest of a 400
		for _, ev := range evs {
			switch {
			case ev == "":
				continue
			case strings.HasPrefix(ev, "HEADERS 400 "), ev == "RST PROTOCOL_ERROR":
				out, refused = append(out, "REFUSED"), strings.HasPrefix(ev, "HEADERS")
				continue
			case refused && (strings.HasPrefix(ev, "DATA ") || ev == "RST NO_ERROR"):
				refused = ev != "RST NO_ERROR"
				continue
			}
			refused = false
			if n := len(out); n > 0 && strings.HasPrefix(ev, "DATA ") && strings.HasPrefix(out[n-1], "DATA ") && !strings.HasSuffix(out[n-1], " END") {
				prev, _ := strconv.Unquote(strings.TrimPrefix(out[n-1], "DATA "))
				cur, end := strings.CutSuffix(strings.TrimPrefix(ev, "DATA "), " END")
				curU, _ := strconv.Unquote(cur)
				ev = "DATA " + strconv.Quote(prev+curU)
				if end {
					ev += " END"
				}
				out = out[:n-1]
			}
			out = append(out, ev)
		}
		if len(out) == 0 {
			delete(o.Streams, id)
			continue
		}
		o.Streams[id] = out
	}
}

// runDiff plays steps against serve (which serves one connection and returns when it
// ends) and returns the normalized outcome and what the client sent.
func runDiff(serve func(net.Conn), steps []step, servers *sync.WaitGroup) (outcome, map[uint32]*clientStream) {
	a, b := net.Pipe()
	// Not waited for here (servers is waited for once the test ends): after a GOAWAY
	// with an error x/net takes a second to return (goAwayTimeout), and the outcome is
	// complete once the client closes its end.
	servers.Go(func() { serve(b) })
	c := newDiffClient(a)
	if err := c.handshake(); err != nil {
		c.out.Notes = append(c.out.Notes, "handshake: "+err.Error())
	} else {
		for _, s := range steps {
			if !c.send(s) {
				break
			}
			if !c.sync() || c.closingDone() {
				break
			}
		}
		if c.open && !c.closed { // a header block left open: the PING ends it, as an error
			c.open = false
			c.sync()
		}
	}
	_ = a.Close()
	for range c.frames { // the reader ends
	}
	c.out.normalize()
	return c.out, c.st
}

func serveOurs(nc net.Conn) { oursWith(http.HandlerFunc(diffHandler))(nc) }

func serveXNet(nc net.Conn) { xnetWith(http.HandlerFunc(diffHandler))(nc) }

func oursWith(h http.Handler) func(net.Conn) {
	return func(nc net.Conn) {
		s := &Server{Handler: h}
		s.ServeConn(context.Background(), nc)
		_ = s.Close()
	}
}

func xnetWith(h http.Handler) func(net.Conn) {
	return func(nc net.Conn) {
		s := &http2.Server{}
		hs := &http.Server{ErrorLog: log.New(io.Discard, "", 0)} // connection errors are expected
		s.ServeConn(nc, &http2.ServeConnOpts{Handler: h, BaseConfig: hs})
	}
}

// differential plays steps against both servers and reports the differences that
// keptDiffs does not explain.
func differential(t testing.TB, servers *sync.WaitGroup, steps []step) {
	t.Helper()
	steps = steps[:cutAtKept(steps)] // beyond: the servers part ways on purpose
	ours, sent := runDiff(serveOurs, steps, servers)
	theirs, _ := runDiff(serveXNet, steps, servers)
	explainStreams(&ours, &theirs, sent)
	if d := cmp.Diff(theirs, ours); d != "" {
		var b strings.Builder
		for i, s := range steps {
			fmt.Fprintf(&b, "\n  %2d %v", i, s)
		}
		t.Errorf("our server and x/net's differ (-x/net +ours):\n%s\nsteps:%s", d, b.String())
	}
}
