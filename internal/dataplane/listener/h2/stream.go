package h2

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
)

var (
	errStreamReset  = errors.New("http2: stream reset")
	errConnClosed   = errors.New("http2: client connection closed")
	errBodyClosed   = errors.New("http2: request body closed by handler")
	errStreamClosed = errors.New("http2: stream closed")
)

// stream is one request/response exchange. Fields below mu are guarded by conn.mu.
type stream struct {
	c      *conn
	id     uint32
	ctx    context.Context
	cancel context.CancelFunc
	req    *http.Request // in sc; nil once the handler returned
	rw     responseWriter
	sc     *scratch // the request's and response's heads, given back by handlerDone
	body   pipe

	// Reader-owned. (The bools next to the bools below: the struct stays in the 352-byte
	// size class.)
	declLen      int64 // content-length of the request, -1 if none
	gotLen       int64
	reqTrailer   http.Header
	gotTrailers  bool
	needContinue bool

	// Guarded by conn.mu.
	remoteClosed bool  // END_STREAM received
	localClosed  bool  // END_STREAM sent
	closed       bool  // removed from the stream table (RST either way, or both ends done)
	resetErr     error // why writes fail once closed
	sendWindow   int32
	recvAvail    int32
	recvUnsent   int32
	started      bool  // handler started (not queued)
	opened       int64 // Server.clock when opened, for RequestTimeout (timeout.go)
	active       int64 // Server.clock when bytes last moved either way (StreamIdleTimeout)
}

// closeStreamLocked removes st from the table, cancels its context, fails its body and
// wakes its writers. Unread request body bytes return to the connection window.
func (c *conn) closeStreamLocked(st *stream, why error) {
	if st.closed {
		return
	}
	st.closed = true
	if st.resetErr == nil {
		st.resetErr = why
	}
	delete(c.streams, st.id)
	// The context first: a handler woken by the body's error finds it cancelled.
	st.cancel()
	if n := st.body.closeWithError(why); n > 0 {
		c.returnConnWindowLocked(int32(n))
	}
	c.cond.Broadcast()
	if c.idleLocked() {
		c.becameIdleLocked()
	}
}

// becameIdleLocked starts the idle timer, or wakes the reader to close the connection
// in a graceful shutdown.
func (c *conn) becameIdleLocked() {
	if c.gracefulDone {
		_ = c.nc.SetReadDeadline(aLongTimeAgo())
		return
	}
	c.out.trimLocked()
	// The stream timer is left to fire: it finds no stream and stays unarmed (stopping
	// it here and arming it at the next stream was two timer operations per request).
	c.startIdleLocked()
	if c.peeking && !c.hopArmed && c.quietLocked() {
		c.startHopLocked() // the reader parks if nothing comes (see wait)
	}
}

// pipe is a request body: DATA appended by the reader, read by the handler.
type pipe struct {
	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte
	off    int
	err    error // io.EOF at END_STREAM, or why the body failed
	closed bool  // the handler closed the body: data is discarded
	onEOF  func()
}

func (p *pipe) init() { p.cond.L = &p.mu }

// write appends data; false when the handler closed the body (the caller returns the
// bytes to the connection window).
func (p *pipe) write(b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil {
		return false
	}
	if p.off == len(p.buf) {
		p.buf, p.off = p.buf[:0], 0
	} else if p.off > 0 && len(p.buf)+len(b) > cap(p.buf) {
		// Compact instead of growing: the flow-control window bounds what is unread,
		// not what was read before it.
		n := copy(p.buf, p.buf[p.off:])
		p.buf, p.off = p.buf[:n], 0
	}
	p.buf = append(p.buf, b...)
	p.cond.Signal()
	return true
}

func (p *pipe) setOnEOF(fn func()) {
	p.mu.Lock()
	p.onEOF = fn
	p.mu.Unlock()
}

// closeWithError ends the body (err io.EOF: normally) and returns the bytes left unread.
func (p *pipe) closeWithError(err error) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
	if err == io.EOF {
		return 0
	}
	n := len(p.buf) - p.off
	p.buf, p.off = nil, 0
	return n
}

// read blocks for data; it returns the count read.
func (p *pipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed {
			return 0, errBodyClosed
		}
		if p.off < len(p.buf) {
			n := copy(b, p.buf[p.off:])
			p.off += n
			return n, nil
		}
		if p.err != nil {
			if p.err == io.EOF && p.onEOF != nil {
				p.onEOF()
				p.onEOF = nil
			}
			return 0, p.err
		}
		p.cond.Wait()
	}
}

// closeByHandler discards the rest; it returns the bytes that were buffered.
func (p *pipe) closeByHandler() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	n := len(p.buf) - p.off
	p.buf, p.off = nil, 0
	p.cond.Broadcast()
	return n
}

// requestBody is the handler's view of the pipe; it grants flow-control window back as
// the handler consumes, and sends 100 Continue on the first read when asked to.
type requestBody struct {
	st *stream
}

func (b requestBody) Read(p []byte) (int, error) {
	st := b.st
	if st.needContinue {
		st.needContinue = false
		st.c.writeContinue(st)
	}
	n, err := st.body.read(p)
	if n > 0 {
		st.c.consumed(st, n)
	}
	return n, err
}

func (b requestBody) Close() error {
	st := b.st
	if n := st.body.closeByHandler(); n > 0 {
		st.c.mu.Lock()
		st.c.returnConnWindowLocked(int32(n))
		st.c.mu.Unlock()
	}
	return nil
}
