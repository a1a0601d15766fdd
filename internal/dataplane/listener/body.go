package listener

import (
	"io"
	"net/http"
	"sync"
)

// body wraps the request body from http.ReadRequest. It sends "100 Continue" on the first
// read when the client expects it, notes EOF (the disconnect watch may then read the
// connection), refuses reads after Close, and bounds what Close discards: net/http's
// server does all of this with unexported hooks on the same body type.
type body struct {
	mu sync.Mutex // Read and Close may come from different goroutines (the proxy's transport)
	rc io.ReadCloser
	hc *hconn
	// orig is the request http.ReadRequest returned, whose body this is; req, the
	// handler's copy of it (WithContext). Undeclared trailers are set on orig at EOF.
	orig, req *http.Request
	res       *response // set until the first read when the client expects 100 Continue
	expect    bool      // the client expects 100 Continue
	cl        int64     // the request's ContentLength (-1: chunked)
	n         int64     // bytes read
	sawEOF    bool
	closed    bool
	early     bool // closed with data left unread: the connection cannot be reused
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.sawEOF {
		return 0, io.EOF
	}
	if b.res != nil {
		b.res.writeContinue()
		b.res = nil
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.eof()
	}
	return n, err
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
// can serve another request; with more left (or a 100 Continue never sent), it gives up
// and the connection is closed after the response.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.discard()
	return nil
}

// discard is called with b.mu held.
func (b *body) discard() {
	if b.sawEOF {
		return
	}
	if b.res != nil || (b.cl >= 0 && b.cl-b.n > maxPostHandlerReadBytes) {
		// Never read while the client waits for our 100 Continue (its body may not
		// come), or too much left: give up.
		b.early = true
		return
	}
	n, err := io.CopyN(io.Discard, b.rc, maxPostHandlerReadBytes)
	b.n += n
	if err == io.EOF {
		b.eof()
	} else {
		b.early = true // more left, or a broken body: what follows is not a request
	}
}

// unread reports whether body bytes may remain on the connection.
func (b *body) unread() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.sawEOF
}

// state returns what the response needs to decide on keeping the connection.
func (b *body) state() (sawEOF, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sawEOF, b.closed
}

// drain discards the rest of the body (bounded as Close); later reads see EOF. False when
// the connection cannot be reused.
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
