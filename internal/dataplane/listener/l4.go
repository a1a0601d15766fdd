package listener

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
)

// Layer 4 (issue 13): connections proxied as byte streams rather than served as HTTP.
//
//   - Passthrough: on a TLS port whose table has PASSTHROUGH servers, the ClientHello is
//     read (not answered) before any TLS processing; when its SNI selects a passthrough
//     server (Table.Lookup, the same lookup as for terminated servers), the raw
//     connection and the bytes read go to Config.Stream. Otherwise the bytes are replayed
//     into crypto/tls and the connection continues as any TLS connection: a hello naming
//     a passthrough server can never be terminated (configForClient refuses such
//     servers), and a terminated connection never reaches a passthrough backend.
//   - TLS-terminated TCP: after the handshake, a connection whose server is a TCP server
//     goes to Config.Stream as its *tls.Conn (whatever ALPN said).
//   - Plain TCP: on a port where Config.TCP reports true, every connection goes to
//     Config.Stream at once.
//
// Streams are tracked apart from HTTP connections: Shutdown waits for them (they end on
// their own or by the idle timeout) until its context ends, then closes them; Close
// closes them at once.

// StreamConn is one connection handed to Config.Stream, which owns it from then on (it
// must close Conn).
type StreamConn struct {
	// Conn is the client connection: the accepted *net.TCPConn for passthrough and plain
	// TCP (so copying can use splice), the *tls.Conn for TLS-terminated TCP.
	Conn net.Conn
	// Prefix: bytes already read from Conn (the ClientHello) that the upstream must
	// receive first. Only for passthrough.
	Prefix []byte
	// Server: the server SNI selected; nil on plain TCP ports.
	Server *Server
	// SNI: the server name of the ClientHello (passthrough) or handshake (terminated).
	SNI string
	// Remote and Local are the connection's addresses as the gateway takes them: those
	// of a downstream PROXY header when the listener accepted one (proxyproto.go), else
	// the socket's.
	Remote, Local net.Addr
	// Workers: the listener's reused goroutines, for the stream's second copy direction
	// (tcpproxy.Proxy.PipeOn).
	Workers *tcpproxy.Workers
}

// streams is the set of stream connections of a listener. A count under the mutex, not
// a sync.WaitGroup: streams may be added while a drain waits (a WaitGroup forbids Add
// concurrent with Wait at zero).
type streams struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	// empty is closed (and reset) when the last stream ends while wait is waiting.
	empty chan struct{}
}

func (s *streams) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *streams) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.empty != nil {
		close(s.empty)
		s.empty = nil
	}
	s.mu.Unlock()
}

// closeAll stops admitting streams and closes those open.
func (s *streams) closeAll(closeFn func(net.Conn) error) {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		if closeFn != nil {
			_ = closeFn(c) // through the stream's event loop when it has one
		} else {
			_ = c.Close()
		}
	}
	s.mu.Unlock()
}

// wait waits until every stream ended or ctx is done (then closes the rest).
func (s *streams) wait(ctx context.Context, closeFn func(net.Conn) error) error {
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.empty == nil {
		s.empty = make(chan struct{})
	}
	done := s.empty
	s.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.closeAll(closeFn)
		<-done
		return ctx.Err()
	}
}

// StreamCount is how many stream connections are open.
func (l *Listener) StreamCount() int {
	l.streams.mu.Lock()
	defer l.streams.mu.Unlock()
	return len(l.streams.conns)
}

// stream runs Config.Stream for sc on the calling goroutine; hc is no longer tracked as
// an HTTP connection.
func (l *Listener) stream(hc *hconn, sc StreamConn) {
	l.conns.remove(hc)
	sc.Remote, sc.Local = hc.c.RemoteAddr(), hc.c.LocalAddr()
	sc.Workers = &l.workers
	if l.cfg.Stream == nil || !l.streams.add(sc.Conn) {
		_ = sc.Conn.Close()
		return
	}
	defer l.streams.remove(sc.Conn)
	l.cfg.Stream(sc)
}

// dispatchL4 runs before any TLS processing of a new connection. It reports whether the
// connection was taken (streamed, or closed while peeking); otherwise the connection
// continues as TLS or HTTP (with the peeked bytes replayed) with TCP keep-alive on.
//
// TCP keep-alive: the listener accepts without it (four setsockopt calls per
// connection) and it is enabled here, with Go's defaults (what net.Listen would have
// set: 15 s idle, 15 s interval, 9 probes), on every connection that is not streamed.
// Passthrough and plain TCP streams go without, as Envoy's downstream connections
// unless a listener socket option asks for them; a stream's idle timeout still closes
// it when no byte moves.
func (hc *hconn) dispatchL4() bool {
	raw := hc.c.Conn // takeL4 may wrap it in a replayConn
	if hc.takeL4() {
		return true
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true})
	}
	return false
}

// takeL4 is dispatchL4 without the keep-alive.
func (hc *hconn) takeL4() bool {
	l := hc.l
	raw := hc.c.Conn
	if hc.tc == nil {
		if l.cfg.TCP != nil && l.cfg.TCP() {
			l.stream(hc, StreamConn{Conn: raw})
			return true
		}
		return false
	}
	t := l.cfg.TLS()
	if t == nil || !t.passthrough {
		return false
	}
	if d := l.cfg.ReadHeaderTimeout; d > 0 {
		_ = raw.SetReadDeadline(time.Now().Add(d))
	}
	// Raw reads (see tcpproxy.Socket): the hello usually arrives after the accept loop
	// went idle, and a net.Conn read would wake the runtime's sysmon thread.
	data, sni, err := readClientHello(tcpproxy.Socket(raw))
	_ = raw.SetReadDeadline(time.Time{})
	if err != nil && !errors.Is(err, errNotHello) {
		// Timeout, reset or EOF before a whole ClientHello: nothing to answer (crypto/tls
		// would not count it as a handshake failure either).
		l.conns.remove(hc)
		_ = raw.Close()
		return true
	}
	if err == nil {
		s := t.Lookup(sni)
		if s != nil && s.Passthrough {
			l.stream(hc, StreamConn{Conn: raw, Prefix: data, Server: s, SNI: sni})
			return true
		}
		if s == nil {
			// A name no server of a port that passes TLS through claims: the connection
			// is closed without a TLS alert, as Envoy does when no filter chain matches
			// (and the Gateway API's TLSRoute conformance requires). On ports that only
			// terminate, crypto/tls answers unrecognized_name (configForClient).
			l.refuseUnknownSNI(hc, raw)
			return true
		}
	}
	hc.c.Conn = &replayConn{Conn: raw, buf: data}
	return false
}

// refuseUnknownSNI closes a connection whose ClientHello names no server, counted and
// logged as the handshake failure it is.
func (l *Listener) refuseUnknownSNI(hc *hconn, raw net.Conn) {
	hc.handshakeFailed(ReasonUnknownSNI)
	l.conns.remove(hc)
	_ = raw.Close()
}

// streamTerminated hands a TLS-terminated connection of a TCP server to Config.Stream;
// false when the server is not one.
func (hc *hconn) streamTerminated() bool {
	s := hc.c.Server()
	if s == nil || !s.TCP {
		return false
	}
	hc.l.stream(hc, StreamConn{Conn: hc.tc, Server: s, SNI: hc.tlsState.ServerName})
	return true
}

// replayConn returns buf before reading from Conn: the bytes read while looking for
// the ClientHello, given back to crypto/tls.
type replayConn struct {
	net.Conn
	buf []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		if len(c.buf) == 0 {
			c.buf = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the socket (lingeringClose).
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// SyscallConn exposes the socket for idle waiting once the replayed bytes are consumed
// (before that, the socket alone does not say whether data is waiting).
func (c *replayConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok || len(c.buf) > 0 {
		return nil, errors.New("listener: replayed bytes pending")
	}
	return sc.SyscallConn()
}

// CloseWrite half-closes the socket under c: a TLS-terminated stream passes a FIN on after
// its close_notify (tcpproxy.closeWrite reaches it through tls.Conn.NetConn).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
