package h2

import (
	"bytes"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// output is the connection's single writer. Frames are encoded under conn.mu into buf;
// whoever finds no flush in progress writes everything queued (of every stream) in one
// write, and keeps writing what was queued meanwhile. So responses completing while a
// write is in progress share the next one, and a small response (HEADERS + DATA) is one
// write.
type output struct {
	c        *conn
	buf      []byte
	spare    []byte
	fw       *http2.Framer
	henc     *hpack.Encoder
	hbuf     bytes.Buffer
	flushing bool
	soon     bool  // a flush is scheduled (flushSoonLocked)
	err      error // first write error: the connection is dead
	control  int   // control frames queued since the last write began
	wdSet    int64 // Server.clock when the write deadline was last set (the flusher's)
	wdOn     bool  // a write deadline is set
	lower    map[string]string
}

func (o *output) init(c *conn) {
	o.c = c
	o.fw = http2.NewFramer(o, nil)
	o.henc = hpack.NewEncoder(&o.hbuf)
	o.lower = make(map[string]string)
}

// Write appends an encoded frame (the Framer's sink).
func (o *output) Write(p []byte) (int, error) {
	o.buf = append(o.buf, p...)
	return len(p), nil
}

// controlLocked counts a queued control frame (ack, reset, window update); too many
// unwritten means the peer provokes frames faster than it reads them.
func (o *output) controlLocked() {
	o.control++
}

func (o *output) tooManyControlLocked() bool { return o.control > maxQueuedControl }

// flushLocked writes what is queued unless a flush is in progress (that one will write
// it). Called with conn.mu held; the lock is released around the write, and true
// returned if it was.
func (o *output) flushLocked() (wrote bool) {
	c := o.c
	for !o.flushing && len(o.buf) > 0 && o.err == nil && !c.dead {
		o.flushing, wrote = true, true
		o.control = 0
		buf := o.buf
		o.buf = o.spare[:0]
		c.mu.Unlock()
		o.writeDeadline()
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		o.flushing = false
		if cap(buf) <= 2*maxPendingWrite {
			o.spare = buf[:0]
		}
		if err != nil {
			o.err = err
			c.killLocked()
		}
		c.cond.Broadcast()
	}
	return wrote
}

// writeDeadline bounds the write about to start by WriteTimeout. Setting a deadline costs
// a clock read and a runtime timer change (~0.3 µs), once per write; so the deadline is
// set WriteTimeout + WriteTimeout/16 ahead and refreshed only when WriteTimeout/16 has
// passed since: every write still gets at least WriteTimeout and at most 1/16 more (design
// 0028). Called by the flusher only (o.flushing), without conn.mu.
func (o *output) writeDeadline() {
	c := o.c
	d := c.srv.WriteTimeout
	if d <= 0 {
		return
	}
	if now := c.srv.clock(); !o.wdOn || now-o.wdSet >= int64(d/16) {
		o.wdSet, o.wdOn = now, true
		_ = c.nc.SetWriteDeadline(time.Now().Add(d + d/16))
	}
}

// flushSoonLocked flushes after letting the other runnable goroutines run first: the
// handlers of other streams whose upstream answers arrived in the same poll then queue
// their frames too, and one write carries them all. Callers that find a flush already
// scheduled or in progress return at once: that one writes their frames.
func (o *output) flushSoonLocked() {
	if o.flushing || o.soon {
		return
	}
	o.soon = true
	o.c.mu.Unlock()
	runtime.Gosched()
	o.c.mu.Lock()
	o.soon = false
	o.flushLocked()
}

// trimLocked drops output buffers grown by large responses once the connection is
// idle, so an idle connection holds no more than a few KiB of them.
func (o *output) trimLocked() {
	if !o.flushing && len(o.buf) == 0 && cap(o.buf) > 4<<10 {
		o.buf = nil
	}
	if cap(o.spare) > 4<<10 {
		o.spare = nil
	}
}

// releaseLocked drops every output buffer and cache of a connection that parks (nothing
// is queued): the frame writer keeps a buffer as large as the largest frame it wrote.
func (o *output) releaseLocked() {
	if !o.flushing && len(o.buf) == 0 {
		o.buf = nil
		o.fw = http2.NewFramer(o, nil)
	}
	o.spare = nil
	if o.hbuf.Len() == 0 {
		o.hbuf = bytes.Buffer{}
	}
	o.lower = nil
}

// drainLocked writes everything queued, waiting for a flush in progress (of another
// goroutine) to end first.
func (o *output) drainLocked() {
	for o.flushing && !o.c.dead {
		o.c.cond.Wait()
	}
	o.flushLocked()
}

// waitRoomLocked blocks while the queued output is over maxPendingWrite (a peer that
// does not read cannot make us buffer without bound); false if the connection died.
func (o *output) waitRoomLocked() bool {
	c := o.c
	for len(o.buf) >= maxPendingWrite && !c.dead {
		if !o.flushing && o.flushLocked() {
			continue
		}
		c.cond.Wait()
	}
	return !c.dead
}

// headersLocked encodes a response header block and queues HEADERS (+ CONTINUATION).
func (o *output) headersLocked(id uint32, status int, h http.Header, contentLength, date string, endStream bool) {
	o.hbuf.Reset()
	o.field(":status", statusString(status))
	for k, vv := range h {
		lk, ok := o.lowerKey(k)
		if !ok || lk == "content-length" { // the caller passes the one we send
			continue
		}
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				o.field(lk, v)
			}
		}
	}
	if contentLength != "" {
		o.field("content-length", contentLength)
	}
	if date != "" {
		o.field("date", date)
	}
	o.blockLocked(id, endStream)
}

// trailersLocked queues the trailer block that ends the stream.
func (o *output) trailersLocked(id uint32, h http.Header) {
	o.hbuf.Reset()
	for k, vv := range h {
		lk, ok := o.lowerKey(k)
		if !ok {
			continue
		}
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				o.field(lk, v)
			}
		}
	}
	o.blockLocked(id, true)
}

func (o *output) field(name, value string) {
	_ = o.henc.WriteField(hpack.HeaderField{Name: name, Value: value})
}

// blockLocked splits the encoded block into frames of the peer's maximum size.
func (o *output) blockLocked(id uint32, endStream bool) {
	block := o.hbuf.Bytes()
	max := int(o.c.peerMaxFrame)
	first := true
	for first || len(block) > 0 {
		n := min(len(block), max)
		frag, end := block[:n], n == len(block)
		block = block[n:]
		if first {
			_ = o.fw.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: endStream, EndHeaders: end})
			first = false
		} else {
			_ = o.fw.WriteContinuation(id, end, frag)
		}
	}
}

// lowerKey returns the wire name of a response header key; false for fields HTTP/2
// forbids (connection-specific) or invalid names.
func (o *output) lowerKey(k string) (string, bool) {
	if lk, ok := o.lower[k]; ok {
		return lk, lk != ""
	}
	lk := strings.ToLower(k)
	switch {
	case strings.HasPrefix(k, http.TrailerPrefix):
		lk = "" // sent in the trailers
	case lk == "connection", lk == "proxy-connection", lk == "transfer-encoding", lk == "upgrade", lk == "keep-alive":
		lk = ""
	default:
		if !httpguts.ValidHeaderFieldName(k) {
			lk = ""
		}
	}
	if len(o.lower) < 256 {
		if o.lower == nil { // dropped while the connection was parked
			o.lower = make(map[string]string)
		}
		o.lower[k] = lk
	}
	return lk, lk != ""
}

func statusString(code int) string {
	switch code {
	case 200:
		return "200"
	case 204:
		return "204"
	case 301:
		return "301"
	case 302:
		return "302"
	case 304:
		return "304"
	case 400:
		return "400"
	case 404:
		return "404"
	case 421:
		return "421"
	case 502:
		return "502"
	case 503:
		return "503"
	}
	return strconv.Itoa(code)
}
