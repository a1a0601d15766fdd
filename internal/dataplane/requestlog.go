package dataplane

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/dataplane/listener"
)

// This file feeds Options.Requests (the access log, Istio's standard metrics). Nothing
// here runs when Requests is nil.

// countedBody counts the request body bytes the proxy read (%BYTES_RECEIVED%).
type countedBody struct {
	io.ReadCloser
	n int64
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// prepareLog gives the request an x-request-id (a UUIDv4 when it has none, as Envoy
// generates one), starts its span and wraps its body in a counter.
func (d *Dataplane) prepareLog(e *exchange, r *http.Request) *http.Request {
	if r.Header.Get("X-Request-Id") == "" {
		r.Header.Set("X-Request-Id", uuid.NewString())
	}
	if d.opts.Tracer != nil {
		r = d.opts.Tracer.Start(r)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	e.body = &countedBody{ReadCloser: r.Body}
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = e.body
	return r2
}

// logRequest hands the completed request to the sink. When the sink reads only
// accesslog.MetricFields (Istio's metrics without an access log) and nothing traces, only
// those are filled: the rest is per-request work nothing would read.
func (d *Dataplane) logRequest(e *exchange, r *http.Request, start time.Time, dur time.Duration) {
	en := d.entry()
	metricFacts(en, e, dur)
	if h := d.sink.Load(); h != nil && h.fields == accesslog.MetricFields && d.opts.Tracer == nil {
		d.emit(h.s, en) // that sink, not one SetRequests may have swapped in since
		return
	}
	en.Start = start
	en.Method = r.Method
	en.Path = r.URL.RequestURI()
	en.Protocol = protocol(r)
	en.Authority = r.Host
	en.Details = details(e)
	en.ForwardedFor = r.Header.Get("X-Forwarded-For")
	en.UserAgent = r.Header.Get("User-Agent")
	en.RequestID = r.Header.Get("X-Request-Id")
	en.UpstreamHost = e.target.Endpoint
	en.UpstreamTransportFailure = e.transportFailure
	en.UpstreamCluster = e.cluster
	if e.route != nil {
		en.Route = e.route.Name
	}
	if ac := listener.ConnFromContext(r.Context()); ac != nil {
		en.DownstreamLocal, en.DownstreamRemote = ac.AddrStrings()
	} else {
		en.DownstreamRemote = r.RemoteAddr
	}
	if r.TLS != nil {
		tlsFacts(en, r.TLS)
	}
	if d.opts.Tracer != nil {
		d.opts.Tracer.End(r, en)
	}
	d.emit(d.requests(), en)
}

// metricFacts fills the accesslog.MetricFields of a cleared en.
func metricFacts(en *accesslog.Entry, e *exchange, dur time.Duration) {
	en.Duration = dur
	en.Code = e.status()
	en.Flags = e.flags.String()
	en.BytesSent = e.sent
	if e.body != nil {
		en.BytesReceived = e.body.n
	}
	if g := e.Header().Get("Grpc-Status"); g != "" {
		en.GRPCStatus = g
	} else if g := e.Header()[http.TrailerPrefix+"Grpc-Status"]; len(g) > 0 {
		en.GRPCStatus = g[0] // an HTTP/2 backend's trailer, not announced in its head
	}
	if e.cluster != "" {
		en.UpstreamService = clusterHost(e.cluster)
	}
}

// emit hands en to s (when not nil) and returns it to the pool.
func (d *Dataplane) emit(s accesslog.Sink, en *accesslog.Entry) {
	if s != nil {
		s.Log(en)
	}
	*en = accesslog.Entry{}
	d.entries.Put(en)
}

// tlsFacts fills the connection's TLS facts: SNI, version, and the client certificate's
// leaf, whose subject and fingerprint the writer prints (never key material).
func tlsFacts(en *accesslog.Entry, cs *tls.ConnectionState) {
	en.ServerName = cs.ServerName
	switch cs.Version {
	case tls.VersionTLS12:
		en.TLSVersion = "TLSv1.2"
	case tls.VersionTLS13:
		en.TLSVersion = "TLSv1.3"
	}
	if len(cs.PeerCertificates) > 0 {
		en.PeerCert = cs.PeerCertificates[0]
		en.MutualTLS = len(cs.VerifiedChains) > 0
	}
}

// protocol is %PROTOCOL% as Envoy prints it.
func protocol(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "HTTP/2"
	}
	return r.Proto
}

// clusterHost is the host of an "outbound|port|subset|host" cluster name.
func clusterHost(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '|' {
			return name[i+1:]
		}
	}
	return name
}

// details is %RESPONSE_CODE_DETAILS%, from what the request went through, with Envoy's
// values where Envoy has one.
func details(e *exchange) string {
	for _, fd := range [...]struct {
		flag   ResponseFlags
		detail string
	}{
		{FlagNoRouteFound, "route_not_found"},
		{FlagNoHealthyUpstream, "no_healthy_upstream"},
		{FlagFaultInjected, "fault_filter_abort"},
		{FlagUpstreamOverflow, "upstream_reset_before_response_started{overflow}"},
		{FlagUpstreamRequestTimeout, "upstream_response_timeout"},
		{FlagUpstreamConnectionFailure, "upstream_reset_before_response_started{connection_failure}"},
		{FlagDownstreamConnectionTermination, "downstream_remote_disconnect"},
		{FlagUpstreamRemoteReset, "upstream_reset_before_response_started{remote_reset}"},
	} {
		if e.flags&fd.flag != 0 {
			return fd.detail
		}
	}
	switch {
	case e.code == http.StatusMisdirectedRequest && e.route == nil:
		return "misdirected_request" // portcullis's own: Envoy has no Host/SNI binding check
	case e.target.Endpoint != "":
		return "via_upstream"
	case e.route != nil:
		return "direct_response"
	}
	return ""
}

// handshakeLog is listener.Config.HandshakeLog: a connection-level entry per failed
// handshake, nil without a sink.
func (d *Dataplane) handshakeLog() func(local, remote net.Addr, reason string) {
	return func(local, remote net.Addr, reason string) {
		if d.requests() == nil {
			return
		}
		en := d.entry()
		*en = accesslog.Entry{
			Start:             time.Now(),
			DownstreamLocal:   local.String(),
			DownstreamRemote:  remote.String(),
			ConnectionFailure: "tls_handshake_failed{" + reason + "}",
		}
		d.emit(d.requests(), en)
	}
}

// entry takes a cleared Entry from the pool (sinks copy what they keep).
func (d *Dataplane) entry() *accesslog.Entry {
	if en, ok := d.entries.Get().(*accesslog.Entry); ok {
		return en
	}
	return new(accesslog.Entry)
}

// requestSink holds the current sink of Options.Requests (SetRequests swaps it).
type requestSink struct {
	s      accesslog.Sink
	fields accesslog.Fields // what s reads (accesslog.Reads)
}

// requests is the sink completed requests go to now; nil when none.
func (d *Dataplane) requests() accesslog.Sink {
	if h := d.sink.Load(); h != nil {
		return h.s
	}
	return nil
}

// SetRequests replaces the sink of completed requests (nil: none, which costs nothing per
// request); requests already under way finish with the sink they started with or none.
// The app calls it when a Telemetry resource turns the access log on or off.
func (d *Dataplane) SetRequests(s accesslog.Sink) {
	if s == nil {
		d.sink.Store(nil)
		return
	}
	d.sink.Store(&requestSink{s: s, fields: accesslog.Reads(s)})
}
