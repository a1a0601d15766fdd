package listener

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// body wraps the request body from http.ReadRequest. It sends "100 Continue" on the first
// read when the client expects it, notes EOF (the disconnect watch may then read the
// connection), refuses reads after Close, and bounds what Close discards: net/http's
// server does all of this with unexported hooks on the same body type.
//
// Read and Close may come from different goroutines (the proxy's transport writes the
// body upstream on its own). Unlike net/http's body, the lock is not held while reading
// the connection: the response must be committed while a read waits for a client that
// declared a body and has not sent it (Traefik's CVE-2024-28869 is this hang). When the
// response needs the body's state, a read in flight means "the rest is still due":
// the response is sent at once and the connection closed after it (see stop).
type body struct {
	mu    sync.Mutex
	waitc chan struct{} // made by a waiter for a read in flight, closed when it ends
	rc    io.ReadCloser
	hc    *hconn
	// orig is the request http.ReadRequest returned, whose body this is; req, the
	// handler's copy of it (WithContext). Undeclared trailers are set on orig at EOF.
	orig, req *http.Request
	res       *response // set until the first read when the client expects 100 Continue
	expect    bool      // the client expects 100 Continue
	cl        int64     // the request's ContentLength (-1: chunked)
	n         int64     // bytes read
	reading   bool      // a Read (or discard) is reading rc, without mu
	sawEOF    bool
	closed    bool
	ended     bool // the handler returned: no read may start (see stop)
	early     bool // closed with data left unread: the connection cannot be reused
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	for b.reading { // concurrent reads are the caller's bug; serialize them as net/http
		b.wait()
	}
	if b.closed || b.ended {
		b.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	}
	if b.sawEOF {
		b.mu.Unlock()
		return 0, io.EOF
	}
	res := b.res
	b.res = nil
	b.reading = true
	b.mu.Unlock()
	if res != nil {
		res.writeContinue()
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		b.hc.activity()
	}
	b.mu.Lock()
	b.n += int64(n)
	if err == io.EOF {
		b.eof()
	}
	b.done()
	b.mu.Unlock()
	return n, err
}

// wait waits, with b.mu held (released meanwhile), until the read in flight ends. Rare
// (a second reader, or stop): the channel is made only then.
func (b *body) wait() {
	if b.waitc == nil {
		b.waitc = make(chan struct{})
	}
	c := b.waitc
	b.mu.Unlock()
	<-c
	b.mu.Lock()
}

// done ends a read in flight; b.mu is held.
func (b *body) done() {
	b.reading = false
	if b.waitc != nil {
		close(b.waitc)
		b.waitc = nil
	}
}

// eof is called with b.mu held.
func (b *body) eof() {
	b.sawEOF = true
	// net/http's body sets the trailers on the request it belongs to, which creates the
	// map when no Trailer field declared one (declared ones share the map with the copy).
	if b.req != nil && b.req.Trailer == nil && b.orig != nil {
		b.req.Trailer = b.orig.Trailer
	}
	b.hc.watch.bodyDone()
}

// Close discards up to maxPostHandlerReadBytes of what is left, so that the connection
// can serve another request; with more left (or a 100 Continue never sent, or a read in
// flight on another goroutine), it gives up and the connection is closed after the
// response. It never waits for the client.
func (b *body) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.discard()
	b.mu.Unlock()
	return nil
}

// discard is called with b.mu held; it releases it while reading.
func (b *body) discard() {
	if b.sawEOF {
		return
	}
	if b.reading || b.res != nil || (b.cl >= 0 && b.cl-b.n > maxPostHandlerReadBytes) {
		// A read in flight (it may wait for a body that never comes), never read while
		// the client waits for our 100 Continue (its body may not come), or too much
		// left: give up.
		b.early = true
		return
	}
	b.reading = true
	b.mu.Unlock()
	n, err := io.CopyN(io.Discard, b.rc, maxPostHandlerReadBytes)
	b.mu.Lock()
	b.n += n
	if err == io.EOF {
		b.eof()
	} else {
		b.early = true // more left, or a broken body: what follows is not a request
	}
	b.done()
}

// unread reports whether body bytes may remain on the connection.
func (b *body) unread() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.sawEOF
}

// state returns what the response needs to decide on keeping the connection, without
// waiting for a read in flight (busy).
func (b *body) state() (sawEOF, closed, busy bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sawEOF, b.closed, b.reading
}

// drain discards the rest of the body (bounded as Close); later reads see EOF. False when
// the connection cannot be reused (also when another goroutine is reading it).
func (b *body) drain() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.discard()
	return b.sawEOF && !b.early
}

// closeForReuse closes the body after the handler; false when the connection cannot be
// reused (data left unread, or the body failed).
func (b *body) closeForReuse() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.discard()
	}
	return b.sawEOF && !b.early
}

// stop is called when the handler returned. Reads may no longer start (the proxy's
// transport may still be writing the body upstream); one still in flight, waiting for the
// client, fails by an expired read deadline, and stop waits for it, so that the
// connection's buffers are no longer used when it is closed or serves the next request.
// The connection is not reused after a read was cut.
func (b *body) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended = true
	if !b.reading {
		return
	}
	b.early = true
	_ = b.hc.nc.SetReadDeadline(time.Unix(1, 0))
	for b.reading {
		b.wait()
	}
}
