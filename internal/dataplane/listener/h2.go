package listener

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/portcullis/portcullis/internal/dataplane/listener/h2"
)

// h2Conns hands the connections whose handshake (done by us) negotiated "h2" to our
// HTTP/2 server (package h2), each on a fresh goroutine (the handshake's grown stack is
// not kept). Requests get the same context values as HTTP/1.1 ones (connCtx).
type h2Conns struct {
	l   *Listener
	srv *h2.Server
}

func newH2Conns(l *Listener) *h2Conns {
	cfg := l.cfg
	return &h2Conns{l: l, srv: &h2.Server{
		Handler:           cfg.Handler,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		StreamIdleTimeout: cfg.StreamIdleTimeout,
		RequestTimeout:    cfg.RequestTimeout,
		// A write blocked that long means the client stopped reading: drop it as an idle
		// connection would be (no other bound applies while its streams are open).
		WriteTimeout: cfg.IdleTimeout,
		Logger:       l.cfg.Logger,
	}}
}

// push serves nc (a handshaken *tls.Conn); false (nc not taken) once the listener closes.
func (q *h2Conns) push(nc net.Conn) bool {
	if q.l.closing.Load() {
		return false
	}
	tc, _ := nc.(*tls.Conn)
	if tc == nil {
		return false
	}
	c, _ := tc.NetConn().(*Conn)
	base := &connCtx{Context: context.Background(), c: c, srv: q.l.srv, local: tc.LocalAddr()}
	go q.srv.ServeConn(base, tc)
	return true
}
