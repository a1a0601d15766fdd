package dataplane

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/authz/engine"
	"github.com/portcullis/portcullis/internal/dataplane/listener"
)

// Options configure a Dataplane. Zero values take the documented defaults.
type Options struct {
	// PortMap maps a gateway port to the "host:port" to listen on (e.g. 443 → ":8443").
	PortMap map[uint32]string
	// ListenHost is the host for ports not in PortMap, which listen on ListenHost:PORT.
	// "" listens on every interface.
	ListenHost string

	ReadHeaderTimeout time.Duration // default 10s; also bounds the TLS handshake
	IdleTimeout       time.Duration // keep-alive idle timeout, default 2m
	MaxHeaderBytes    int           // default 64 KiB
	DrainTimeout      time.Duration // graceful drain bound on shutdown and port removal, default 30s
	// StreamIdleTimeout ends a request/response exchange with no bytes moving either way
	// (Envoy's stream_idle_timeout): default 5m, negative disables.
	StreamIdleTimeout time.Duration
	// RequestTimeout bounds receiving a whole request, headers and body (Envoy's
	// request_timeout): 0 or negative disables (the default).
	RequestTimeout time.Duration
	// TicketKeyRotation is the session ticket key period: tickets resume for one to two
	// periods, then their keys are forgotten; and never more than listener.MaxTicketAge
	// (24h) after their session was established, whatever the period. Default 12h.
	TicketKeyRotation time.Duration
	// TLS13SessionTickets issues session tickets on TLS 1.3 connections too (see
	// listener.Tickets.TLS13 for why it is off by default).
	TLS13SessionTickets bool
	// L4Accept has the event loop accept the connections of ports whose servers are all
	// PASSTHROUGH, and read their ClientHello (listener.Config.Accept, design 0036
	// "Accepting in the loop"); off: Go's listener accepts every port. Linux only.
	L4Accept bool
	// ProxyProtocol accepts downstream PROXY headers from trusted peers on every port
	// (Istio's gatewayTopology.proxyProtocol; design 0029); nil: off.
	ProxyProtocol *ProxyProtocol

	UpstreamDialTimeout           time.Duration // default 5s
	UpstreamResponseHeaderTimeout time.Duration // default none (as Istio: only a route timeout bounds a response); > 0 sets one
	UpstreamMaxIdlePerHost        int           // pooled idle connections per endpoint, default 64

	// Authz compiles each snapshot's Security (AuthorizationPolicy, RequestAuthentication);
	// nil: a snapshot with security policies is rejected (never served unenforced).
	Authz *engine.Runtime

	// Requests receives every completed request (the access log, Istio's standard
	// metrics) and every failed TLS handshake; nil (the default) costs nothing per request.
	Requests accesslog.Sink
	// Tracer continues the request's trace in a span and ends it with the request's
	// Entry; nil (tracing off) costs nothing per request.
	Tracer Tracer
}

// ProxyProtocol configures accepting downstream PROXY headers (listener.ProxyProtocol).
type ProxyProtocol = listener.ProxyProtocol

// Tracer is what the data plane needs of a tracer (internal/tracing implements it).
type Tracer interface {
	// Start returns the request to serve: its context holds the span and its headers
	// the context to propagate upstream.
	Start(r *http.Request) *http.Request
	// End ends the span of a request Start returned.
	End(r *http.Request, e *accesslog.Entry)
}

func (o Options) withDefaults() Options {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.StreamIdleTimeout == 0 {
		o.StreamIdleTimeout = 5 * time.Minute
	}
	if o.TicketKeyRotation <= 0 {
		o.TicketKeyRotation = 12 * time.Hour
	}
	return o
}

// addr is the listen address of a gateway listener. With a bind address, the listener
// binds that address on the port --port-map gives the Gateway port (only its port part),
// else on the Gateway port itself.
func (o Options) addr(k listenKey) string {
	a, mapped := o.PortMap[k.port]
	if k.bind == "" {
		if mapped {
			return a
		}
		return net.JoinHostPort(o.ListenHost, strconv.FormatUint(uint64(k.port), 10))
	}
	p := strconv.FormatUint(uint64(k.port), 10)
	if mapped {
		if _, mp, err := net.SplitHostPort(a); err == nil {
			p = mp
		}
	}
	return net.JoinHostPort(k.bind, p)
}
