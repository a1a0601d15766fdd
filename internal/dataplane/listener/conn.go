package listener

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
)

// Conn wraps every accepted connection (under the *tls.Conn on TLS ports). The handshake
// records on it which Server SNI selected, so the HTTP handler can bind requests to it.
type Conn struct {
	net.Conn
	server atomic.Pointer[Server]
	xfcc   atomic.Pointer[string]
	// admitted is the latest client-auth policy key this connection was re-verified
	// against (see Admitted).
	admitted atomic.Pointer[string]

	// Written by GetConfigForClient during the handshake and read after it (the handshake
	// mutex of the *tls.Conn orders the two), so they need no atomics.
	hello   bool   // a ClientHello arrived
	failure string // handshake failure reason decided by us

	// raw reads and writes rawOf (the accepted socket) with raw system calls
	// (tcpproxy.NetConn; design 0025), as long as Conn is still rawOf: the passthrough
	// path swaps Conn for a replaying one after its peek.
	raw, rawOf net.Conn

	// remote and local: the addresses of an accepted downstream PROXY header
	// (proxyproto.go), which RemoteAddr and LocalAddr return; nil: the socket's.
	remote, local net.Addr

	// addrOnce formats LocalAddr and RemoteAddr once (AddrStrings).
	addrOnce              sync.Once
	localText, remoteText string
}

// AddrStrings returns LocalAddr().String() and RemoteAddr().String(), formatted once per
// connection: every request's log entry asks for them, and they no longer change once
// requests are served (a downstream PROXY header is read before the first one).
func (c *Conn) AddrStrings() (local, remote string) {
	c.addrOnce.Do(func() { c.localText, c.remoteText = c.LocalAddr().String(), c.RemoteAddr().String() })
	return c.localText, c.remoteText
}

// RemoteAddr is the client's address: a downstream PROXY header's source when one was
// accepted, else the socket's peer.
func (c *Conn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr is the address the client connected to: a downstream PROXY header's
// destination when one was accepted, else the socket's.
func (c *Conn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return c.Conn.LocalAddr()
}

// newConn wraps an accepted connection.
func newConn(nc net.Conn) *Conn {
	c := &Conn{Conn: nc}
	if r := tcpproxy.NetConn(nc); r != nil {
		c.raw, c.rawOf = r, nc
	}
	return c
}

// Read reads the socket, with raw system calls while it is the accepted one.
func (c *Conn) Read(p []byte) (int, error) {
	if c.raw != nil && c.Conn == c.rawOf {
		return c.raw.Read(p)
	}
	return c.Conn.Read(p)
}

// Write writes the socket, with raw system calls while it is the accepted one.
func (c *Conn) Write(p []byte) (int, error) {
	if c.raw != nil && c.Conn == c.rawOf {
		return c.raw.Write(p)
	}
	return c.Conn.Write(p)
}

// SyscallConn exposes the socket, for waiting on it without a goroutine (package idle).
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("listener: connection has no file descriptor")
	}
	return sc.SyscallConn()
}

// Server returns the Server the TLS handshake selected; nil on plain connections and
// before the handshake completed.
func (c *Conn) Server() *Server { return c.server.Load() }

// ClientCertHeader returns format(leaf), computed once per connection: the peer
// certificate of a connection never changes (the server never renegotiates), so the
// header derived from it (hash, subject, SANs) need not be recomputed per request.
func (c *Conn) ClientCertHeader(leaf *x509.Certificate, format func(*x509.Certificate) string) string {
	if p := c.xfcc.Load(); p != nil {
		return *p
	}
	v := format(leaf)
	c.xfcc.Store(&v)
	return v
}

type connKey struct{}

// ConnFromContext returns the connection a request arrived on (from r.Context()), or nil.
func ConnFromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}

// connCtx is the context of an HTTP/1.1 connection: the values http.Server would set
// (ServerContextKey, LocalAddrContextKey) and our *Conn, in one allocation.
type connCtx struct {
	context.Context
	c     *Conn
	srv   *http.Server
	local net.Addr
}

func (x *connCtx) Value(key any) any {
	switch key {
	case connKey{}:
		return x.c
	case http.ServerContextKey:
		return x.srv
	case http.LocalAddrContextKey:
		return x.local
	}
	return x.Context.Value(key)
}
