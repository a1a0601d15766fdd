package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener/idle"
	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
)

// Config of one port listener.
type Config struct {
	Addr string // "host:port" to bind
	// TLS returns the table currently serving this port, or nil while the port serves plain
	// HTTP. It is consulted per accepted connection and per handshake, and must be cheap.
	TLS     func() *Table
	Handler http.Handler

	ReadHeaderTimeout time.Duration // also bounds the TLS handshake
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// StreamIdleTimeout ends an exchange (HTTP/1.1 request or HTTP/2 stream) with no bytes
	// moving either way for that long: 408 before the response started, else the stream
	// is reset / the connection closed (Envoy's stream_idle_timeout). 0 disables.
	StreamIdleTimeout time.Duration
	// RequestTimeout bounds receiving a whole request, headers and body (Envoy's
	// request_timeout): 408 if the response has not started. 0 disables.
	RequestTimeout time.Duration
	// HandshakeFailure, if set, is called once per failed handshake with a Reason* value.
	HandshakeFailure func(reason string)
	// HandshakeLog, if set, is also called once per failed handshake with the
	// connection's addresses, for a connection-level access log line.
	HandshakeLog func(local, remote net.Addr, reason string)
	Logger       *slog.Logger

	// Layer 4 (l4.go). Stream takes over the connections proxied as byte streams
	// (passthrough, TLS-terminated TCP, plain TCP) and returns when it is done with them;
	// TCP reports whether plain connections on this port are TCP streams. Both are
	// consulted per connection; nil Stream closes such connections.
	Stream func(StreamConn)
	// CloseStream closes a connection handed to Stream when the listener closes (the
	// stream's copier may need to end it itself, tcpproxy.Proxy.Close); nil: Close.
	CloseStream func(net.Conn) error
	TCP         func() bool

	// ProxyProtocol, when set, accepts downstream PROXY headers from trusted peers
	// (proxyproto.go); nil: none are read.
	ProxyProtocol *ProxyProtocol

	// Accept, when set, has an event loop accept the port's connections and read their
	// ClientHello (tcpproxy.Proxy.Accept, design 0036) if, when Serve starts, every
	// server of the port is PASSTHROUGH and no PROXY header is read (loopaccept.go).
	Accept func(*net.TCPListener, tcpproxy.Acceptor) (stop func(), err error)
	// StreamLoop, when set, takes the passthrough connections an event loop accepted
	// (Accept) instead of Stream: on the loop's goroutine, so it must not block (it may
	// start the stream in the loop, tcpproxy.Proxy.Start, or hand it to sc.Workers). It
	// owns sc.Conn and calls done once the stream ended and its connections are closed
	// (the listener's stream set: Shutdown's drain, Close, Connections).
	StreamLoop func(sc StreamConn, done func())
}

// Listener serves one port: a bound socket, our own HTTP/1.1 connection loop (see
// serve.go) and our own HTTP/2 server (package h2) for the connections that negotiated
// HTTP/2 via ALPN.
type Listener struct {
	cfg    Config
	ln     net.Listener
	srv    *http.Server // not served: the http.ServerContextKey value of requests
	h2     *h2Conns     // HTTP/2 connections, served by package h2
	base   *tls.Config  // selects the per-server config by SNI
	reject *tls.Config  // no certificates: crypto/tls answers with alert unrecognized_name
	conns  tracker
	// streams are the connections handed to Config.Stream (l4.go).
	streams streams
	park    idle.Set // long-idle HTTP/1.1 connections, without a goroutine each
	dates   dateCache
	// Pooled *bufio.Reader and *bufio.Writer of the HTTP/1.1 connections.
	readers, writers sync.Pool
	pendings         sync.Pool // *[chunkingBuffer]byte, see response.pending
	headers          sync.Pool // http.Header maps of responses, see response.idle
	leans            sync.Pool // *leanScratch: requests read by leanParse (leanparse.go)
	// closing is set by Shutdown and Close: no new connections, no keep-alive.
	closing atomic.Bool
	done    chan struct{} // closed with closing (wakes the accept back-off)
	// acceptStop ends an event loop's accepting (Config.Accept); nil when Go accepts.
	amu        sync.Mutex
	acceptStop func()
	epoch      atomic.Uint64 // the watch clock (see watchClock)
	// StreamIdleTimeout and RequestTimeout in watch clock epochs (see timeout.go).
	idleTicks, requestTicks uint64
	// workers run the connections (and a stream's second copy direction) on reused
	// goroutines, whose stacks have already grown (tcpproxy.Workers).
	workers tcpproxy.Workers
}

// Listen binds cfg.Addr. Serve must be called to accept connections.
func Listen(cfg Config) (*Listener, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TLS == nil {
		cfg.TLS = func() *Table { return nil }
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	// No TCP keep-alive set at accept: dispatchL4 enables Go's default on connections
	// served as HTTP or TLS, and L4 streams go without, as Envoy's (see l4.go).
	lc := net.ListenConfig{KeepAlive: -1}
	// Plain TCP, as Envoy, nginx and HAProxy listen: Go listens with MPTCP by default
	// where the kernel has it, which costs every accepted TCP connection its fallback
	// path (mptcp_stream_accept, mptcp_poll) and gives clients nothing a gateway uses.
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	l := &Listener{cfg: cfg, ln: ln, reject: &tls.Config{}, done: make(chan struct{})}
	l.cfg.Logger = cfg.Logger.With("addr", ln.Addr().String())
	l.base = &tls.Config{GetConfigForClient: l.configForClient}
	l.conns.init()
	l.idleTicks, l.requestTicks = ticks(cfg.StreamIdleTimeout), ticks(cfg.RequestTimeout)
	// Never served: it is the http.ServerContextKey value of every request (ReverseProxy
	// aborts a broken response only under a server), describing the limits in force.
	l.srv = &http.Server{
		Handler:           cfg.Handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
	}
	l.h2 = newH2Conns(l)
	return l, nil
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve accepts connections until Shutdown or Close; it returns nil then.
func (l *Listener) Serve() error {
	go l.watchClock()
	if l.serveLoop() { // loopaccept.go
		<-l.done
		return nil
	}
	return l.accept()
}

// accept runs the accept loop. Temporary errors (out of file descriptors) back off as
// http.Server does, from 5 ms to 1 s.
func (l *Listener) accept() error {
	var delay time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if l.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Temporary() { //nolint:staticcheck // as net/http
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				l.cfg.Logger.Warn("accept failed, retrying", "error", err, "delay", delay)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-l.done:
				}
				t.Stop()
				continue
			}
			return err
		}
		delay = 0
		hc := newHConn(l, nc)
		if !l.conns.add(hc) {
			_ = nc.Close()
			continue
		}
		l.workers.Go(hc.serve)
	}
}

// stopAccepting marks the listener closing and closes its socket; it reports whether
// this call did so.
func (l *Listener) stopAccepting() bool {
	if !l.closing.CompareAndSwap(false, true) {
		return false
	}
	close(l.done)
	l.amu.Lock()
	if l.acceptStop != nil {
		l.acceptStop() // before the socket closes: the loop leaves it first
	}
	l.amu.Unlock()
	_ = l.ln.Close()
	return true
}

// Shutdown stops accepting, closes idle connections, and waits until in-flight requests
// are answered (with Connection: close) or ctx is done.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.stopAccepting()
	h2 := make(chan error, 1)
	go func() { h2 <- l.h2.srv.Shutdown(ctx) }()
	err := l.conns.drain(ctx)
	l.park.Close()
	serr := l.streams.wait(ctx, l.cfg.CloseStream)
	l.workers.Close()
	return errors.Join(err, serr, <-h2)
}

// Connections is how many client connections the listener holds (handshaking, HTTP/1.1,
// HTTP/2 and L4 streams), and how many of them are parked idle without a goroutine.
func (l *Listener) Connections() (open, parked int) {
	l.conns.mu.Lock()
	open = len(l.conns.conns)
	l.conns.mu.Unlock()
	h2open, h2parked := l.h2.srv.Connections()
	return open + h2open + l.StreamCount(), l.park.Len() + h2parked
}

// Close closes the socket and every connection.
func (l *Listener) Close() error {
	l.stopAccepting()
	err := l.h2.srv.Close()
	l.conns.closeAll()
	l.streams.closeAll(l.cfg.CloseStream)
	l.park.Close()
	l.workers.Close()
	return err
}

// configForClient selects the Server by SNI (no SNI: the "*" server, if any).
func (l *Listener) configForClient(hi *tls.ClientHelloInfo) (*tls.Config, error) {
	c, _ := hi.Conn.(*Conn)
	if c == nil { // cannot happen: every TLS connection is a tls.Server over a *Conn
		return nil, errors.New("listener: unexpected connection type")
	}
	c.hello = true
	t := l.cfg.TLS()
	if t == nil {
		c.failure = ReasonProtocol
		return nil, errors.New("listener: port no longer serves tls")
	}
	s := t.Lookup(hi.ServerName)
	if s == nil {
		c.failure = ReasonUnknownSNI
		return l.reject, nil
	}
	if s.Passthrough { // never terminated here (l4.go routes these before TLS)
		c.failure = ReasonProtocol
		return nil, fmt.Errorf("server %s passes tls through", s.Name)
	}
	if s.config == nil {
		c.failure = s.failure
		return nil, fmt.Errorf("server %s cannot terminate tls (%s)", s.Name, s.failure)
	}
	c.server.Store(s)
	if s.config13 != nil && slices.Contains(hi.SupportedVersions, tls.VersionTLS13) {
		return s.config13, nil // TLS 1.3 will be negotiated: no tickets (Tickets.TLS13)
	}
	return s.config, nil
}

func classify(c *Conn, err error) string {
	if c != nil && c.failure != "" {
		return c.failure
	}
	var ve *VerifyError
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ve):
		return ve.Reason
	case errors.As(err, &cve):
		return ReasonBadClientCert
	case strings.Contains(err.Error(), "didn't provide a certificate"): // crypto/tls has no typed error
		return ReasonNoClientCert
	case errors.As(err, &rhe), c != nil && c.hello:
		return ReasonProtocol
	}
	return "" // closed before any ClientHello (probes, shutdown): not a handshake failure
}
