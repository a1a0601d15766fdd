package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
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
	// HandshakeFailure, if set, is called once per failed handshake with a Reason* value.
	HandshakeFailure func(reason string)
	Logger           *slog.Logger
}

// Listener serves one port: a bound socket and an http.Server (HTTP/1.1, and HTTP/2 over
// TLS via ALPN).
type Listener struct {
	cfg    Config
	ln     net.Listener
	srv    *http.Server
	base   *tls.Config // selects the per-server config by SNI
	reject *tls.Config // no certificates: crypto/tls answers with alert unrecognized_name
}

// Listen binds cfg.Addr. Serve must be called to accept connections.
func Listen(cfg Config) (*Listener, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TLS == nil {
		cfg.TLS = func() *Table { return nil }
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	l := &Listener{cfg: cfg, ln: ln, reject: &tls.Config{}}
	l.base = &tls.Config{GetConfigForClient: l.configForClient}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	l.srv = &http.Server{
		Handler:           cfg.Handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		Protocols:         &protocols,
		ConnContext:       connContext,
		ConnState:         l.connState,
		ErrorLog:          log.New(errorLog{cfg.Logger.With("addr", ln.Addr().String())}, "", 0),
	}
	return l, nil
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve accepts connections until Shutdown or Close; it returns nil then.
func (l *Listener) Serve() error {
	err := l.srv.Serve(acceptor{Listener: l.ln, l: l})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for in-flight requests until ctx is done.
func (l *Listener) Shutdown(ctx context.Context) error { return l.srv.Shutdown(ctx) }

// Close closes the socket and every connection.
func (l *Listener) Close() error {
	err := l.srv.Close()
	_ = l.ln.Close() // the http.Server only tracks it once Serve has started
	return err
}

// configForClient selects the Server by SNI (no SNI: the "*" server, if any).
func (l *Listener) configForClient(hi *tls.ClientHelloInfo) (*tls.Config, error) {
	c, _ := hi.Conn.(*Conn)
	if c == nil { // cannot happen: acceptor wraps every connection
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
	if s.config == nil {
		c.failure = s.failure
		return nil, fmt.Errorf("server %s cannot terminate tls (%s)", s.Name, s.failure)
	}
	c.server.Store(s)
	return s.config, nil
}

// connState reports failed handshakes: a TLS connection closing without a completed
// handshake. crypto/tls caches the handshake error, so Handshake returns it at once.
func (l *Listener) connState(nc net.Conn, st http.ConnState) {
	if st != http.StateClosed || l.cfg.HandshakeFailure == nil {
		return
	}
	tc, ok := nc.(*tls.Conn)
	if !ok || tc.ConnectionState().HandshakeComplete {
		return
	}
	c, _ := tc.NetConn().(*Conn)
	if reason := classify(c, tc.Handshake()); reason != "" {
		l.cfg.HandshakeFailure(reason)
	}
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

// errorLog routes http.Server's log lines to slog: handshake errors are counted by the
// observer and expected from scanners, so they are debug; the rest are warnings.
type errorLog struct{ logger *slog.Logger }

func (e errorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		e.logger.Debug("tls handshake failed", "detail", msg)
	} else {
		e.logger.Warn("http server error", "detail", msg)
	}
	return len(p), nil
}
