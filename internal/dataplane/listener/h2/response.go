package h2

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

// responseWriter is the http.ResponseWriter of a stream. Body bytes are buffered up to
// handlerBufSize; a handler that finishes within that sends HEADERS (with a
// Content-Length) and DATA(END_STREAM) together, in the connection's next write.
type responseWriter struct {
	st          *stream
	header      http.Header
	status      int
	wroteHeader bool // WriteHeader with a final status was called
	sentHeader  bool // the HEADERS frame was queued
	isHead      bool
	clen        int64 // the handler's Content-Length, -1 if none
	written     int64
	buf         []byte
	bufp        *[]byte // buf's pool entry
	tooLarge    bool    // the request's header list was over the limit: 431
}

func (w *responseWriter) init(st *stream) {
	w.st = st
	w.header = st.sc.resp
	w.isHead = st.req.Method == http.MethodHead
	w.clen = -1
}

func (w *responseWriter) Header() http.Header { return w.header }

// HeaderValues lends the backing array for n values of the response header map, for
// the upstream's response head (upstream.ValueLender): it is in the stream's scratch,
// given back with the map once the handler returned and the head was encoded. Nil when
// n is over lentValues, the array is lent already, or the handler has returned.
func (w *responseWriter) HeaderValues(n int) []string {
	sc := w.st.sc
	if sc == nil || sc.rvalsLent || n > len(sc.rvals) {
		return nil
	}
	sc.rvalsLent = true
	return sc.rvals[:n:n]
}

func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader {
		return // superfluous, as net/http (which logs it)
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		c := w.st.c
		c.mu.Lock()
		if !w.st.closed && !c.dead {
			c.out.headersLocked(w.st.id, code, w.header, "", "", false)
			c.touchLocked(w.st)
			c.out.flushLocked()
		}
		c.mu.Unlock()
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.clen = n
		} else {
			delete(w.header, "Content-Length") // as net/http: an invalid value is dropped
		}
	}
}

func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.clen >= 0 && w.written > w.clen {
		return 0, http.ErrContentLength
	}
	if w.isHead {
		return len(p), nil
	}
	if len(w.buf)+len(p) <= handlerBufSize {
		if w.buf == nil {
			w.bufp = w.st.c.srv.getBuf()
			w.buf = *w.bufp
		}
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if err := w.send(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *responseWriter) WriteString(s string) (int, error) {
	if len(w.buf)+len(s) <= handlerBufSize && w.wroteHeader && bodyAllowed(w.status) && !w.isHead && w.clen < 0 && w.buf != nil {
		w.written += int64(len(s))
		w.buf = append(w.buf, s...)
		return len(s), nil
	}
	return w.Write([]byte(s))
}

// send queues the header (once), the buffered bytes and p, and writes them out (flush:
// at once; else after letting other ready streams queue theirs).
func (w *responseWriter) send(p []byte, flush bool) error {
	c, st := w.st.c, w.st
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.closed || c.dead {
		return st.writeErr()
	}
	if !w.sentHeader {
		w.sentHeader = true
		cl := ""
		if w.clen >= 0 {
			cl = strconv.FormatInt(w.clen, 10)
		}
		c.out.headersLocked(st.id, w.status, w.header, cl, w.date(), false)
		c.touchLocked(st)
	}
	if len(w.buf) > 0 {
		if err := c.writeDataLocked(st, w.buf, false); err != nil {
			return err
		}
		w.buf = w.buf[:0]
	}
	if err := c.writeDataLocked(st, p, false); err != nil {
		return err
	}
	// Bytes past the handler's buffer go out now (net/http's server sends them at
	// once too): a slow upstream's known-length body must not sit in our buffer.
	if flush {
		c.out.flushLocked()
	} else {
		c.out.flushSoonLocked()
	}
	if c.out.err != nil {
		return c.out.err
	}
	return nil
}

// date is the Date header to add, unless the handler set (or suppressed) one.
func (w *responseWriter) date() string {
	if _, ok := w.header["Date"]; ok {
		return ""
	}
	return w.st.c.srv.dates.get()
}

func (w *responseWriter) Flush() { _ = w.FlushError() }

// EnableFullDuplex is a no-op: HTTP/2 streams are always full duplex (as net/http).
func (w *responseWriter) EnableFullDuplex() error { return nil }

// FlushError sends the header and what is buffered now (http.ResponseController).
func (w *responseWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.send(nil, true)
}

// finish ends the response when the handler returns.
func (w *responseWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	c, st := w.st.c, w.st
	trailers := w.trailers()
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.closed || c.dead {
		return
	}
	noBody := !bodyAllowed(w.status) || w.isHead
	if !noBody && w.clen >= 0 && w.written < w.clen {
		// Short of its declared length: the client must not take it as complete (an
		// HTTP/1.1 server would close the connection).
		c.resetLocked(st, http2.ErrCodeInternal)
		c.out.flushLocked()
		return
	}
	if !w.sentHeader {
		w.sentHeader = true
		cl := ""
		switch {
		case w.clen >= 0:
			cl = strconv.FormatInt(w.clen, 10)
		case noBody && w.isHead && w.written > 0:
			cl = strconv.FormatInt(w.written, 10)
		case !noBody && trailers == nil:
			cl = strconv.Itoa(len(w.buf)) // the whole body is known, as net/http adds it
		}
		end := (noBody || len(w.buf) == 0) && trailers == nil
		c.out.headersLocked(st.id, w.status, w.header, cl, w.date(), end)
		c.touchLocked(st)
		if end {
			c.endLocalLocked(st)
			c.out.flushSoonLocked()
			return
		}
	}
	if err := c.writeDataLocked(st, w.buf, trailers == nil); err != nil {
		return
	}
	w.buf = w.buf[:0]
	if trailers != nil && !st.closed {
		c.out.trailersLocked(st.id, trailers)
		c.endLocalLocked(st)
	}
	c.out.flushSoonLocked()
}

// trailers collects the declared (Trailer header) and http.TrailerPrefix trailers that
// have values; nil if none. Names forbidden in trailers (RFC 9110 6.5.1: framing,
// routing, authentication fields) are dropped, as x/net's declareTrailer does; invalid
// names are dropped when encoding (lowerKey).
func (w *responseWriter) trailers() http.Header {
	var t http.Header
	add := func(k string, vv []string) {
		if len(vv) == 0 || !httpguts.ValidTrailerHeader(k) {
			return
		}
		if t == nil {
			t = make(http.Header)
		}
		t[http.CanonicalHeaderKey(k)] = vv
	}
	for _, v := range w.header["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			add(k, w.header[k])
		}
	}
	for k, vv := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			add(strings.TrimPrefix(k, http.TrailerPrefix), vv)
		}
	}
	return t
}

// release returns the body buffer to the pool (the handler has returned).
func (w *responseWriter) release() {
	if w.buf != nil {
		w.st.c.srv.putBuf(w.bufp, w.buf)
		w.buf, w.bufp = nil, nil
	}
}
