package upstream

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Options of the upstream proxy. Zero values take the documented defaults.
type Options struct {
	DialTimeout           time.Duration // default 5s
	ResponseHeaderTimeout time.Duration // default none, as Istio (a route's timeout bounds it); > 0 sets one
	IdleConnTimeout       time.Duration // default 90s
	MaxIdleConnsPerHost   int           // default 64
	// Overflow, when set, is called each time a circuit breaker of a cluster's
	// connection pool trips (breaker: Breaker*; see pool.go).
	Overflow func(cluster, breaker string)
}

// Target says where and how one request is forwarded.
type Target struct {
	Endpoint string // "host:port" to dial
	// Cluster the endpoint belongs to: its Spec carries the traffic policy (TLS,
	// protocol, pool, load balancing) the transport applies. nil = plain HTTP/1.1.
	Cluster         *Cluster
	Path            string // rewritten path; "" keeps the request's
	Authority       string // rewritten Host; "" keeps the request's
	RequestHeaders  *snapshot.HeaderOps
	ResponseHeaders *snapshot.HeaderOps
	// ClientCert is the X-Forwarded-Client-Cert value; "" removes the header.
	ClientCert string
	// SetCookie: a consistent-hash cookie generated for this request (Key.SetCookie),
	// added to the upstream's response; "" adds none.
	SetCookie string
}

type targetKey struct{}

// Proxy forwards requests; one per dataplane, safe for concurrent use.
type Proxy struct {
	rp        *httputil.ReverseProxy
	transport *h1Transport
	logger    *slog.Logger
	// HTTP/2 clusters (h2.go): the same ReverseProxy over the HTTP/2 transport.
	rp2 *httputil.ReverseProxy
	h2  *h2Transport
	// PROXY protocol clusters (proxyproto.go): header is the version this proxy's
	// connections start with (0: none); pp the proxies of versions 1 and 2.
	header int
	pp     *ppProxies
}

// NewProxy builds the proxy and its pooled transport.
func NewProxy(opts Options, logger *slog.Logger) *Proxy {
	p := newProxy(opts, logger, 0)
	p.pp = &ppProxies{opts: opts, logger: logger}
	return p
}

// newProxy builds a proxy whose upstream connections start with a PROXY header of
// version header (0: none).
func newProxy(opts Options, logger *slog.Logger, header int) *Proxy {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	tr := &http.Transport{
		Proxy:                 nil, // never route upstream traffic through environment proxies
		DialContext:           proxyDial((&net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}).DialContext, header),
		MaxIdleConnsPerHost:   opts.MaxIdleConnsPerHost,
		IdleConnTimeout:       opts.IdleConnTimeout,
		ResponseHeaderTimeout: max(opts.ResponseHeaderTimeout, 0),
		ExpectContinueTimeout: time.Second,
		// Transparent proxy: never add Accept-Encoding or decompress behind the client's back.
		DisableCompression: true,
	}
	h1 := &h1Transport{
		fallback:          tr,
		dial:              tr.DialContext,
		maxIdle:           opts.MaxIdleConnsPerHost,
		idleTimeout:       opts.IdleConnTimeout,
		sweepEvery:        time.Second,
		respHeaderTimeout: tr.ResponseHeaderTimeout,
		handshakeTimeout:  opts.DialTimeout,
		logger:            logger,
		pollEvery:         time.Second,
	}
	h1.header = header
	h1.pools.overflow = opts.Overflow
	if h1.pools.overflow == nil {
		h1.pools.overflow = func(string, string) {}
	}
	p := &Proxy{transport: h1, logger: logger, header: header}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      h1,
		BufferPool:     &bufferPool{},
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.errorHandler,
		// FlushInterval 0: ReverseProxy already flushes every write of streamed responses
		// (unknown length or text/event-stream); fixed-length bodies are buffered.
		ErrorLog: log.New(logWriter{logger}, "", 0),
	}
	p.h2 = newH2Transport(tr.DialContext, opts.IdleConnTimeout, tr.ResponseHeaderTimeout)
	p.h2.pools = h1
	rp2 := *p.rp
	rp2.Transport = p.h2
	p.rp2 = &rp2
	return p
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = 90 * time.Second
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 64
	}
	return o
}

// Forward proxies r to t. Errors are answered with 503 (connect failure, reset) or 504
// (timeout).
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, t *Target) {
	if _, ok := r.Header["Upgrade"]; ok && refusedUpgradeType(r) {
		w.Header().Set("Connection", "close")
		LocalReply(w, r, http.StatusForbidden, "upgrade not allowed")
		return
	}
	if v := headerVersion(t); v != p.header {
		p.pp.get(v).Forward(w, r, t) // proxyproto.go
		return
	}
	if cp := p.transport.poolOf(t.Cluster); cp != nil {
		// The cluster's connection pool policy: a request in progress (maxRequests).
		if err := p.transport.admit(cp); err != nil {
			p.errorHandler(w, r, err)
			return
		}
		defer cp.done()
	}
	if speaksH2(r, t) {
		p.rp2.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, t)))
		return
	}
	if leanRequest(r, t) {
		p.forwardLean(w, r, t)
		return
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, t)))
}

// Overflow counts a circuit breaker of cluster that tripped outside the proxy (the
// retries of design 0013: BreakerMaxRetries).
func (p *Proxy) Overflow(cluster, breaker string) { p.transport.pools.overflow(cluster, breaker) }

// CloseIdleConnections closes pooled upstream connections (on shutdown).
func (p *Proxy) CloseIdleConnections() {
	p.transport.CloseIdleConnections()
	p.h2.CloseIdleConnections()
	p.transport.closeIdleH2()
	p.pp.closeIdle()
}

func rewrite(pr *httputil.ProxyRequest) {
	t, _ := pr.In.Context().Value(targetKey{}).(*Target)
	out := pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = t.Endpoint
	if t.Path != "" && t.Path != out.URL.Path {
		out.URL.Path, out.URL.RawPath = t.Path, ""
	}
	vals := setXForwarded(pr)
	if t.Authority != "" {
		out.Host = t.Authority
	}
	out.Header.Del(HeaderXFCC)
	dropLookalikes(out.Header)
	// Trailers are headers too for some backends: a client-sent forwarding field never
	// reaches the upstream as a request trailer either.
	for k := range out.Trailer {
		if forwarding(textproto.CanonicalMIMEHeaderKey(k)) {
			delete(out.Trailer, k)
		}
	}
	dropH2CUpgrade(out.Header)
	if t.ClientCert != "" {
		vals[3] = t.ClientCert
		out.Header[HeaderXFCC] = vals[3:4:4]
	}
	ApplyHeaderOps(out.Header, t.RequestHeaders)
}

// setXForwarded is pr.SetXForwarded with the header values of X-Forwarded-For, -Host and
// -Proto (and room for X-Forwarded-Client-Cert, returned) in one allocation instead of
// one each. Every value is a full-capacity sub-slice, so appending to one header (an
// "add" header operation) copies it rather than overwriting its neighbour.
func setXForwarded(pr *httputil.ProxyRequest) *[4]string {
	vals := new([4]string)
	h := pr.Out.Header
	if clientIP, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			clientIP = strings.Join(prior, ", ") + ", " + clientIP
		}
		vals[0] = clientIP
		h["X-Forwarded-For"] = vals[0:1:1]
	} else {
		delete(h, "X-Forwarded-For")
	}
	vals[1] = pr.In.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	vals[2] = "http"
	if pr.In.TLS != nil {
		vals[2] = "https"
	}
	h["X-Forwarded-Proto"] = vals[2:3:3]
	return vals
}

func modifyResponse(resp *http.Response) error {
	if err := refusedUpgrade(resp); err != nil {
		return err // ReverseProxy closes the body (the connection), then answers the error
	}
	if t, _ := resp.Request.Context().Value(targetKey{}).(*Target); t != nil {
		ApplyHeaderOps(resp.Header, t.ResponseHeaders)
		addSetCookie(resp.Header, t)
	}
	return nil
}

// ApplyHeaderOps applies ops in Istio's order: remove, set, add.
func ApplyHeaderOps(h http.Header, ops *snapshot.HeaderOps) {
	if ops == nil {
		return
	}
	for _, k := range ops.Remove {
		h.Del(k)
	}
	for k, v := range ops.Set {
		h.Set(k, v)
	}
	for k, v := range ops.Add {
		h.Add(k, v)
	}
}

// FailureHandler is implemented by a ResponseWriter that wants to see upstream failures
// before they are answered (retries, response flags: design 0013). UpstreamFailed returns
// true when it took care of the failure: nothing is written to it then.
type FailureHandler interface {
	UpstreamFailed(r *http.Request, err error) bool
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if fh, ok := w.(FailureHandler); ok && fh.UpstreamFailed(r, err) {
		return
	}
	code := StatusFor(err)
	if r.Context().Err() == context.Canceled {
		p.logger.Debug("client went away before upstream answered", "error", err)
	} else {
		p.logger.Warn("upstream request failed", "host", r.Host, "path", r.URL.Path, "status", code, "error", err)
	}
	msg := "upstream connect error or disconnect/reset before headers"
	if code == http.StatusGatewayTimeout {
		msg = "upstream request timeout"
	}
	LocalReply(w, r, code, msg)
}

// StatusFor maps an upstream error to the status the client gets: 504 for a route or
// response-header timeout, 503 for everything else (refused, unreachable, reset), as Envoy.
func StatusFor(err error) int {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return http.StatusServiceUnavailable // includes dial timeouts: nothing connected
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout
	}
	return http.StatusServiceUnavailable
}

type logWriter struct{ logger *slog.Logger }

func (l logWriter) Write(p []byte) (int, error) {
	l.logger.Debug("reverse proxy", "detail", string(p))
	return len(p), nil
}
