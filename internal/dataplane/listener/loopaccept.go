package listener

import (
	"net"

	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
)

// Accepting in an event loop (Config.Accept, design 0036 "Accepting in the loop"). A
// port whose servers are all PASSTHROUGH when Serve starts, and which reads no
// downstream PROXY header, is accepted by a tcpproxy loop instead of Go's listener: the
// loop owns the listening socket's accepts (Go's accept goroutine does not run), reads
// each ClientHello with the same reassembly as readClientHello (helloComplete) and with
// ReadHeaderTimeout as its deadline, and gives a connection to loopConn only once its
// hello is whole. Such a connection is a raw socket (*tcpproxy.Upstream), which the
// loop's streams and DialLoop take as a client.
//
// Route changes: the port keeps being accepted by the loop. A hello whose SNI selects a
// server that is no longer PASSTHROUGH (a terminated server added since), or a port
// that stopped passing TLS through, continues on the Go path: the socket becomes a
// *net.TCPConn (net.FileConn: a dup and a poller registration, on that rare path only)
// and is served as any accepted connection, the bytes read replayed. Ports that mix both
// from the start, plain TCP ports and ports with a downstream PROXY protocol keep Go's
// accept.

// serveLoop hands the port's accepts to an event loop when it can take them; false: Go
// accepts.
func (l *Listener) serveLoop() bool {
	tl, ok := l.ln.(*net.TCPListener)
	if l.cfg.Accept == nil || !ok || l.cfg.ProxyProtocol != nil || (l.cfg.TCP != nil && l.cfg.TCP()) {
		return false
	}
	if t := l.cfg.TLS(); t == nil || !t.allPassthrough() {
		return false
	}
	l.amu.Lock()
	defer l.amu.Unlock()
	if l.closing.Load() {
		return false
	}
	stop, err := l.cfg.Accept(tl, tcpproxy.Acceptor{
		Complete: helloComplete,
		Timeout:  l.cfg.ReadHeaderTimeout,
		Conn:     l.loopConn,
	})
	if err != nil {
		l.cfg.Logger.Debug("event loop does not accept, Go does", "error", err)
		return false
	}
	l.acceptStop = stop
	l.cfg.Logger.Info("listener accepts in the L4 event loop") // the logger carries addr
	return true
}

// helloComplete is tcpproxy.Acceptor.Complete: whether data holds a whole ClientHello
// (errNotHello when it cannot become one), as readClientHello decides.
func helloComplete(data []byte) (bool, error) {
	h := helloReader{data: data}
	done, err := h.consume()
	if err == nil && !done && len(data) >= maxBuffered {
		err = errNotHello
	}
	return done, err
}

// loopConn is tcpproxy.Acceptor.Conn: a connection whose ClientHello is whole (or err:
// not a hello). It runs on the loop's goroutine: the stream continues there
// (StreamLoop) or on a worker.
func (l *Listener) loopConn(u *tcpproxy.Upstream, data []byte, err error) {
	if l.closing.Load() {
		_ = u.Close()
		return
	}
	t := l.cfg.TLS()
	if err == nil && t != nil && t.passthrough && (l.cfg.TCP == nil || !l.cfg.TCP()) {
		h := helloReader{data: data}
		_, _ = h.consume()
		sni, perr := parseClientHello(h.msg)
		if perr == nil {
			s := t.Lookup(sni)
			if s == nil { // as takeL4: closed without an alert
				l.handshakeFailed(u, ReasonUnknownSNI)
				_ = u.Close()
				return
			}
			if s.Passthrough {
				l.loopStream(u, StreamConn{Conn: u, Prefix: data, Server: s, SNI: sni})
				return
			}
		}
	}
	l.handBack(u, data)
}

// loopStream hands a passthrough connection accepted by the loop to Config.StreamLoop
// on the loop's goroutine, or to Config.Stream on a worker goroutine.
func (l *Listener) loopStream(u *tcpproxy.Upstream, sc StreamConn) {
	// Local stays nil: the stream asks the socket (getsockname) only if it needs it.
	sc.Remote, sc.Workers = u.RemoteAddr(), &l.workers
	if (l.cfg.Stream == nil && l.cfg.StreamLoop == nil) || !l.streams.add(u) {
		_ = u.Close()
		return
	}
	if l.cfg.StreamLoop != nil {
		l.cfg.StreamLoop(sc, func() { l.streams.remove(u) })
		return
	}
	l.workers.Go(func() bool {
		defer l.streams.remove(u)
		l.cfg.Stream(sc)
		return true
	})
}

// handBack serves a connection accepted by the loop that is not a passthrough stream on
// the Go path, data replayed first.
func (l *Listener) handBack(u *tcpproxy.Upstream, data []byte) {
	tc, err := u.NetConn()
	if err != nil {
		_ = u.Close()
		return
	}
	hc := newHConn(l, &replayConn{Conn: tc, buf: data})
	if !l.conns.add(hc) {
		_ = tc.Close()
		return
	}
	l.workers.Go(hc.serve)
}
