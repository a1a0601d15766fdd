package listener

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener/idle"
)

// hconn is one accepted connection served by our HTTP/1.1 loop (see doc.go for why we
// do not use http.Server for it). Its goroutine handshakes, then a fresh goroutine runs
// the request loop (the handshake's deep stack is not kept for the connection's life).
// Between requests, when nothing is buffered, the connection holds no bufio buffers.
type hconn struct {
	l     *Listener
	c     *Conn     // our wrapper over the TCP connection
	tc    *tls.Conn // nil on plain connections
	nc    net.Conn  // what HTTP is read from and written to: tc, or c
	state atomic.Int32

	ctx      context.Context // per connection: see connCtx
	remote   string
	tlsState *tls.ConnectionState

	cr       connReader
	br       *bufio.Reader // nil while idle
	bw       *bufio.Writer // nil while idle
	werr     error         // first write error: the connection is not reused
	lastPost bool          // the previous request was a POST (skip stray CRLF)
	again    bool          // a request was served: the next is not the first

	res  response     // reused by every request of the connection
	lean *leanScratch // the request being served, when leanParse read it
	// lastHead is the previous request head leanParse made a string of, for the next to
	// share (leanString); dropped when the connection is idle for hopDelay.
	lastHead string
	watch    watch
	wait     idleWaiter

	// Parked while long idle (see park): resumeFn is resumeParked, made once.
	parked    idle.Entry
	parkFresh bool
	parkDL    time.Time
	resumeFn  func(error)

	hijacked atomic.Bool
}

func newHConn(l *Listener, nc net.Conn) *hconn {
	c := newConn(nc)
	hc := &hconn{l: l, c: c, nc: c}
	if l.cfg.TLS() != nil { // decided per connection: a port may switch to/from TLS
		hc.tc = tls.Server(c, l.base)
		hc.nc = hc.tc
	}
	hc.res.hc = hc
	hc.watch.hc = hc
	return hc
}

// serve runs on the goroutine started for the connection by the accept loop. It
// reports whether that goroutine may serve another connection (Listener.workers): after
// an L4 stream or a connection closed before any HTTP, not after handing a connection to
// the HTTP loops, so that HTTP connections still give up their goroutines when they go
// idle (design 0007).
func (hc *hconn) serve() (keep bool) {
	if !hc.acceptProxyHeader() { // proxyproto.go
		return true
	}
	if hc.dispatchL4() {
		return true
	}
	if hc.tc == nil {
		hc.loop()
		return false
	}
	ok := hc.handshake()
	if ok && !hc.state.CompareAndSwap(stateNew, stateActive) {
		ok = false // Shutdown or Close began during the handshake
	}
	if !ok {
		hc.l.conns.remove(hc)
		_ = hc.nc.Close()
		return true
	}
	if hc.streamTerminated() {
		return true
	}
	if hc.tlsState.NegotiatedProtocol == "h2" {
		hc.l.conns.remove(hc)
		if !hc.l.h2.push(hc.tc) {
			_ = hc.tc.Close()
		}
		return false
	}
	go hc.loop()
	return false
}

// handshake runs the TLS handshake bounded by ReadHeaderTimeout; a failure is
// classified and reported, and plain HTTP gets net/http's 400.
func (hc *hconn) handshake() bool {
	l := hc.l
	if d := l.cfg.ReadHeaderTimeout; d > 0 {
		_ = hc.c.SetDeadline(time.Now().Add(d))
	}
	err := hc.tc.HandshakeContext(context.Background())
	if err != nil {
		detail := err.Error()
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			detail = "client sent an HTTP request to an HTTPS server"
		}
		if hc.state.Load() == stateClosed {
			return false // cut by Shutdown or Close: not the client's failure
		}
		l.cfg.Logger.Debug("tls handshake failed", "remote", hc.c.RemoteAddr().String(), "detail", detail)
		if reason := classify(hc.c, err); reason != "" {
			hc.handshakeFailed(reason)
		}
		return false
	}
	_ = hc.c.SetWriteDeadline(time.Time{})
	cs := hc.tc.ConnectionState()
	hc.tlsState = &cs
	return true
}

// looksLikeHTTP reports whether a TLS record header is the start of an HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// loop runs on a fresh goroutine once the connection is established.
func (hc *hconn) loop() {
	l := hc.l
	if hc.tc == nil && !hc.state.CompareAndSwap(stateNew, stateActive) {
		hc.close()
		return
	}
	hc.remote = hc.c.RemoteAddr().String()
	hc.ctx = &connCtx{Context: context.Background(), c: hc.c, srv: l.srv, local: hc.c.LocalAddr()}
	hc.cr.r = hc.nc
	hc.acquire()
	// The first request is due within ReadHeaderTimeout of the handshake.
	switch hc.next(l.cfg.ReadHeaderTimeout, false) {
	case waitClose:
		hc.close()
		return
	case waitMoved:
		return
	}
	hc.run()
}

// run serves requests, waiting between them, until the connection is closed, is
// hijacked, or its wait moved to another goroutine.
func (hc *hconn) run() {
	l := hc.l
	if !hc.again && hc.tc == nil && hc.serveH2C() {
		return // h2c: the connection is the HTTP/2 server's now
	}
	for {
		hc.watch.begun = l.epoch.Load() // the request timeout counts from here
		req, err := hc.readRequest()
		if l.closing.Load() {
			hc.close()
			return // as net/http: a request read once shutdown began is not served
		}
		if err != nil {
			hc.reject(err)
			hc.close()
			return
		}
		ok := hc.serveRequest(req)
		hc.releaseLean()
		if !ok {
			hc.close()
			return
		}
		hc.again = true
		switch hc.next(l.cfg.IdleTimeout, true) {
		case waitClose:
			hc.close()
			return
		case waitMoved:
			return
		}
	}
}

func (hc *hconn) setHeaderDeadline() {
	d := hc.l.cfg.ReadHeaderTimeout
	if rt := hc.l.cfg.RequestTimeout; rt > 0 && (d <= 0 || rt < d) {
		d = rt // the head is part of the request RequestTimeout bounds
	}
	if d > 0 {
		_ = hc.nc.SetReadDeadline(time.Now().Add(d))
	} else {
		_ = hc.nc.SetReadDeadline(time.Time{})
	}
}

// close ends the connection: buffers back to their pools, socket closed (unless
// hijacked), untracked.
func (hc *hconn) close() {
	if !hc.hijacked.Load() {
		hc.release(true)
		_ = hc.nc.Close()
	}
	hc.l.conns.remove(hc)
}

// lingeringClose closes the write side, then discards what the client still sends for up
// to half a second before closing, so that a client still writing its request reads our
// response before the RST that closing a socket with unread data causes (net/http's
// closeWriteAndWait).
func (hc *hconn) lingeringClose() {
	if hc.bw != nil {
		_ = hc.bw.Flush()
	}
	if hc.tc != nil {
		_ = hc.tc.CloseWrite()
	}
	tcp, ok := hc.c.Conn.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	_ = tcp.CloseWrite()
	_ = hc.c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var buf [512]byte
	for {
		if _, err := hc.c.Conn.Read(buf[:]); err != nil {
			return
		}
	}
}

// handshakeFailed counts and logs one failed handshake (Config.HandshakeFailure/Log).
func (hc *hconn) handshakeFailed(reason string) {
	hc.l.handshakeFailed(hc.c, reason)
}

// handshakeFailed counts and logs a failed handshake of c.
func (l *Listener) handshakeFailed(c net.Conn, reason string) {
	if cfg := &l.cfg; cfg.HandshakeFailure != nil {
		cfg.HandshakeFailure(reason)
		if cfg.HandshakeLog != nil {
			cfg.HandshakeLog(c.LocalAddr(), c.RemoteAddr(), reason)
		}
	}
}
