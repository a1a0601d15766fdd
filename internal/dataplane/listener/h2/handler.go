package h2

import (
	"net/http"
	"runtime"

	"golang.org/x/net/http2"
)

// runHandler runs on the stream's goroutine.
func (c *conn) runHandler(st *stream) {
	panicked := true
	defer func() {
		var e any
		if panicked {
			e = recover()
		}
		c.handlerDone(st, panicked, e)
	}()
	var h http.Handler = c.srv.Handler
	if st.rw.tooLarge {
		h = http.HandlerFunc(headerTooLarge)
	}
	h.ServeHTTP(&st.rw, st.req)
	panicked = false
}

// headerTooLarge answers a request whose header list was over the limit, as net/http.
func headerTooLarge(w http.ResponseWriter, _ *http.Request) {
	const msg = "request header fields too large"
	http.Error(w, msg, http.StatusRequestHeaderFieldsTooLarge)
}

// handlerDone ends the response (or resets the stream after a panic), releases the
// handler's slot and starts a queued stream.
func (c *conn) handlerDone(st *stream, panicked bool, e any) {
	if panicked {
		if e != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.Logger.Error("http2 handler panic", "remote", c.remote, "panic", e, "stack", string(buf))
		}
		c.mu.Lock()
		c.resetLocked(st, http2.ErrCodeInternal)
		c.out.flushLocked()
		c.mu.Unlock()
	} else {
		st.rw.finish()
	}
	st.cancel()
	_ = requestBody{st}.Close()
	st.rw.release()
	// The handler is done with the request and the response head is encoded: their
	// storage goes back (scratch.go). The stream's own references go first, so that a
	// use after this point fails instead of reading another stream's request.
	sc := st.sc
	st.sc, st.req, st.rw.header = nil, nil, nil
	c.srv.putScratch(sc)

	c.mu.Lock()
	c.running--
	max := int(c.srv.maxStreams())
	for len(c.queue) > 0 && c.running < max {
		next := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		if next.closed {
			continue
		}
		c.running++
		c.srv.startHandler(next)
	}
	if len(c.queue) == 0 {
		c.queue = nil
	}
	if c.idleLocked() {
		c.becameIdleLocked()
	}
	c.mu.Unlock()
}

// resetLocked sends RST_STREAM (unless the stream is already closed) and closes it.
func (c *conn) resetLocked(st *stream, code http2.ErrCode) {
	if st.closed {
		return
	}
	c.out.controlLocked()
	_ = c.out.fw.WriteRSTStream(st.id, code)
	c.closeStreamLocked(st, errStreamReset)
}

// endLocalLocked records that END_STREAM was queued: the stream closes, and if the
// client is still sending (a body the handler did not wait for) it is told to stop with
// RST_STREAM(NO_ERROR), as net/http does.
func (c *conn) endLocalLocked(st *stream) {
	st.localClosed = true
	if st.remoteClosed {
		c.closeStreamLocked(st, errStreamClosed)
		return
	}
	c.resetLocked(st, http2.ErrCodeNo)
}

// writeContinue sends 100 Continue (the handler read a body the client waits to send).
func (c *conn) writeContinue(st *stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.closed || c.dead {
		return
	}
	c.out.headersLocked(st.id, http.StatusContinue, nil, "", "", false)
	c.touchLocked(st)
	c.out.flushLocked()
}

// writeDataLocked queues p as DATA frames within the send windows and the peer's frame
// size, waiting for window or buffer room as needed; end sets END_STREAM on the last.
func (c *conn) writeDataLocked(st *stream, p []byte, end bool) error {
	for {
		if st.closed || c.dead {
			return st.writeErr()
		}
		if len(p) == 0 && !end {
			return nil
		}
		if !c.out.waitRoomLocked() {
			continue
		}
		n := max(0, min(int64(len(p)), int64(st.sendWindow), int64(c.sendWindow), int64(c.peerMaxFrame)))
		if n == 0 && len(p) > 0 {
			if !c.out.flushLocked() { // what is queued may be what the peer waits for
				c.cond.Wait()
			}
			continue
		}
		last := int(n) == len(p)
		_ = c.out.fw.WriteData(st.id, end && last, p[:n])
		c.touchLocked(st)
		st.sendWindow -= int32(n)
		c.sendWindow -= int32(n)
		p = p[n:]
		if last {
			if end {
				c.endLocalLocked(st)
			}
			return nil
		}
	}
}

func (st *stream) writeErr() error {
	if st.c.dead && st.resetErr == nil {
		return errConnClosed
	}
	if st.resetErr == nil {
		return errStreamClosed
	}
	return st.resetErr
}
