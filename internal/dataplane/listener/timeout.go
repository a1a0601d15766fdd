package listener

import (
	"net/http"
	"strconv"
	"time"
)

// Timeouts of an HTTP/1.1 exchange, with Envoy's semantics:
//
//   - StreamIdleTimeout: no bytes moving either way (request body read, response
//     written) for that long while a request is served;
//   - RequestTimeout: the whole request (head and body) not received that long after its
//     head began, before the response started.
//
// Either cancels the request's context (the proxy's upstream request ends) and expires
// the connection's read deadline (a body read waiting for the client ends). If the
// response has not started, the handler's answer is replaced by a 408 (Envoy's "stream
// timeout" / "request timeout"); if it has, the write deadline is expired too (a write
// waiting for a client that does not read ends) and the connection is closed.
//
// They are checked by the listener's watch clock (watchTick) rather than by a timer or
// deadline moves per request: reads and writes stamp the clock's epoch (two atomics), and
// the clock's tick compares; a timeout fires between its value and two ticks later.
const (
	timeoutIdle int32 = 1 + iota
	timeoutRequest
)

// ticks converts a timeout to watch clock epochs: fired when more than that many epochs
// passed, so at least d after the last activity (0: disabled).
func ticks(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + watchTick - 1) / watchTick)
}

// activity notes bytes moving for the request being served.
func (hc *hconn) activity() {
	hc.watch.active.Store(hc.l.epoch.Load())
}

// expired reports which timeout, if any, the running request passed at epoch e; w.mu
// is held.
func (w *watch) expired(e uint64) int32 {
	l := w.hc.l
	if n := l.idleTicks; n > 0 && e-w.active.Load() > n {
		return timeoutIdle
	}
	if n := l.requestTicks; n > 0 && !w.bodyEOF && !w.started.Load() && e-w.begun > n {
		return timeoutRequest
	}
	return 0
}

// fire acts on a timeout of the running request; w.mu is held. Called again on later
// ticks, it expires the write deadline once the response has started.
func (w *watch) fire(why int32) {
	nc := w.hc.nc
	if w.fired.Load() == 0 {
		w.fired.Store(why)
		w.cancel()
		_ = nc.SetReadDeadline(time.Unix(1, 0))
	}
	if !w.writeCut && w.started.Load() {
		w.writeCut = true
		cut := time.Unix(1, 0)
		if w.replying.Load() {
			// The response is the timeout's own 408: cutting it at once could stop its write
			// mid-record and corrupt a TLS stream (the client reads "bad record MAC"
			// instead of the 408). It gets a bounded time to be written whole.
			cut = time.Now().Add(replyGrace)
		}
		_ = nc.SetWriteDeadline(cut)
	}
}

// replyGrace is how long the 408 of a timeout may take to be written.
const replyGrace = time.Second

// timeoutReply replaces the handler's response, not yet started, by a 408; later writes
// of the handler fail with http.ErrHandlerTimeout.
func (w *response) timeoutReply(why int32) {
	msg := "stream timeout"
	if why == timeoutRequest {
		msg = "request timeout"
	}
	w.hc.watch.replying.Store(true)
	h := w.header
	clear(h)
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{strconv.Itoa(len(msg))}
	h["Connection"] = []string{"close"}
	w.replacing = true
	w.WriteHeader(http.StatusRequestTimeout)
	_, _ = w.write(nil, msg, len(msg))
	w.replaced = true
}
