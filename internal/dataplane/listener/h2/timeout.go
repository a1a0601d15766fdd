package h2

import (
	"errors"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// Stream timeouts (Envoy's stream_idle_timeout and request_timeout). A stream records
// when it opened and when bytes last moved on it, either way (HEADERS or DATA received
// or queued); one timer per connection fires at the earliest deadline of its streams,
// deals with those past theirs and re-arms for the next. So a request costs a clock
// read or two and no timer of its own. A stream timing out is answered 408 if its
// response has not started, else reset with CANCEL; either way its context is cancelled
// (the upstream request ends) and its handler's writes fail. This is what releases a
// handler blocked on a peer that keeps its flow-control window at zero.

var errStreamTimeout = errors.New("http2: stream timed out")

// streamTimeouts reports whether streams are timed at all (no clock reads otherwise).
func (s *Server) streamTimeouts() bool { return s.StreamIdleTimeout > 0 || s.RequestTimeout > 0 }

// clock is the server's monotonic time in nanoseconds (an int64 where a stream keeps two:
// a time.Time would grow every stream by 32 bytes).
func (s *Server) clock() int64 { return int64(time.Since(s.epoch)) }

// openedLocked starts st's clocks as it opens.
func (c *conn) openedLocked(st *stream) {
	if !c.srv.streamTimeouts() {
		return
	}
	st.opened = c.srv.clock()
	st.active = st.opened
	c.armTimerLocked(c.deadlineLocked(st))
}

// touchLocked records bytes moving on st.
func (c *conn) touchLocked(st *stream) {
	if c.srv.StreamIdleTimeout > 0 {
		st.active = c.srv.clock()
	}
}

// deadlineLocked is when (clock) st times out unless bytes move; 0: never.
func (c *conn) deadlineLocked(st *stream) int64 {
	var d int64
	if t := c.srv.StreamIdleTimeout; t > 0 {
		d = st.active + int64(t)
	}
	if t := c.srv.RequestTimeout; t > 0 && !st.remoteClosed {
		if r := st.opened + int64(t); d == 0 || r < d {
			d = r
		}
	}
	return d
}

// armTimerLocked makes the connection's stream timer fire at d at the latest.
func (c *conn) armTimerLocked(d int64) {
	if d == 0 || (c.timerAt != 0 && d >= c.timerAt) {
		return
	}
	c.timerAt = d
	wait := time.Duration(d - c.srv.clock())
	if c.streamTimer == nil {
		c.streamTimer = time.AfterFunc(wait, c.onStreamTimer)
	} else {
		c.streamTimer.Reset(wait)
	}
}

// stopTimerLocked disarms the stream timer (no stream left, or the connection ends).
func (c *conn) stopTimerLocked() {
	if c.streamTimer != nil && c.timerAt != 0 {
		c.streamTimer.Stop()
		c.timerAt = 0
	}
}

// onStreamTimer times out the streams past their deadline and re-arms for the next.
func (c *conn) onStreamTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timerAt = 0
	if c.dead {
		return
	}
	now := c.srv.clock()
	var next int64
	for _, st := range c.streams { // timeoutLocked deletes from the map: allowed
		d := c.deadlineLocked(st)
		switch {
		case d == 0:
		case now >= d:
			c.timeoutLocked(st)
		case next == 0 || d < next:
			next = d
		}
	}
	c.armTimerLocked(next)
	c.out.flushLocked()
}

// timeoutLocked ends a timed-out stream: 408 (then RST_STREAM(NO_ERROR) if the client
// is still sending, as any response that ends before the request) unless the handler
// has started its response, else RST_STREAM(CANCEL).
func (c *conn) timeoutLocked(st *stream) {
	c.srv.Logger.Debug("http2 stream timeout", "remote", c.remote, "stream", st.id, "response_started", st.rw.sentHeader)
	st.resetErr = errStreamTimeout
	if st.rw.sentHeader { // set under mu by send and finish
		c.resetLocked(st, http2.ErrCodeCancel)
		return
	}
	c.out.headersLocked(st.id, http.StatusRequestTimeout, nil, "0", c.srv.dates.get(), true)
	c.endLocalLocked(st)
}
