package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// h2Transport is the round tripper of HTTP/2 clusters (snapshot.UpstreamHTTP2, and
// UpstreamClientProtocol for HTTP/2 clients): golang.org/x/net/http2's Transport, with
// prior knowledge over plaintext (h2c) and ALPN "h2" over TLS when the cluster's
// ClientTLS gives a configuration. Its streams are multiplexed over one connection per
// endpoint (more when the backend's SETTINGS_MAX_CONCURRENT_STREAMS is reached), and
// connections are pooled across snapshots as the HTTP/1.1 ones are.
//
// Plaintext connections are shared by every cluster (they are keyed by endpoint and carry
// nothing cluster-specific). TLS connections are pooled per TLS identity — cluster, client
// credential version and SNI, as the HTTP/1.1 pool keys them (tlsFor) — and made by the
// cluster's handshake, so SNI, verification (auto SAN included), failure reasons and
// session resumption are the HTTP/1.1 path's; a rotated client credential gets a fresh
// pool, and the previous one's connections close once idle.
type h2Transport struct {
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	idleTimeout time.Duration
	respHeader  time.Duration // Options.ResponseHeaderTimeout; 0: none
	h2c         *http2.Transport
	// pools gives a cluster with a connection pool policy its own HTTP/2 pool
	// (h2pool.go); nil: none (tests of the transport alone).
	pools *h1Transport

	mu  sync.Mutex
	tls map[string]*http2.Transport // by TLS identity (connTLS.key)
}

func newH2Transport(dial func(ctx context.Context, network, addr string) (net.Conn, error), idleTimeout, respHeader time.Duration) *h2Transport {
	t := &h2Transport{dial: dial, idleTimeout: idleTimeout, respHeader: respHeader, tls: make(map[string]*http2.Transport)}
	t.h2c = t.newTransport(func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return dial(ctx, network, addr)
	})
	t.h2c.AllowHTTP = true // "http" URLs: prior knowledge over the plain connection dialled above
	return t
}

func (t *h2Transport) newTransport(dial func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error)) *http2.Transport {
	return &http2.Transport{
		DialTLSContext: dial,
		// Transparent proxy: never add Accept-Encoding or decompress behind the client's back.
		DisableCompression: true,
		IdleConnTimeout:    t.idleTimeout,
		// A connection whose backend went silent is checked with a PING, as http.Transport
		// does for its HTTP/2 connections; one that does not answer is closed.
		ReadIdleTimeout: 30 * time.Second,
		PingTimeout:     15 * time.Second,
	}
}

// errNoH2: a TLS upstream of an HTTP/2 cluster that did not negotiate ALPN h2.
func errNoH2(addr, got string) error {
	return fmt.Errorf("upstream %s did not negotiate ALPN h2 (got %q)", addr, got)
}

// errH2Upgrade: an HTTP/1.1 protocol upgrade (WebSocket) cannot go to an HTTP/2 cluster.
var errH2Upgrade = errors.New("upstream: protocol upgrade to an HTTP/2 cluster (extended CONNECT is not originated)")

func (t *h2Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tg, _ := req.Context().Value(targetKey{}).(*Target)
	if _, ok := req.Header["Upgrade"]; ok {
		return nil, errH2Upgrade
	}
	ct, err := tlsFor(tg, req.Host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	out := req.WithContext(ctx)
	tr := t.h2c
	var use *h2Use
	if cp := t.clusterPool(tg); cp != nil {
		use = &h2Use{}
		out = out.WithContext(context.WithValue(ctx, h2UseKey{}, use))
		tr = t.pools.clusterH2(cp, ct, tg.Cluster.Spec.Protocol == snapshot.UpstreamHTTP2).tr
	} else if ct != nil {
		tr = t.tlsTransport(ct)
	}
	if ct != nil {
		u := *req.URL
		u.Scheme = "https"
		out.URL = &u
	}
	var late *time.Timer
	if t.respHeader > 0 {
		late = time.AfterFunc(t.respHeader, cancel)
	}
	resp, err := tr.RoundTrip(out)
	if late != nil && !late.Stop() && err != nil {
		err = fmt.Errorf("upstream %s: timeout awaiting response headers: %w", req.URL.Host, context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		use.done()
		return nil, err
	}
	resp.Body = &h2Body{ReadCloser: resp.Body, cancel: cancel, use: use}
	return resp, nil
}

// clusterPool returns the connection pool of tg's cluster, nil when it has none.
func (t *h2Transport) clusterPool(tg *Target) *clusterPool {
	if t.pools == nil || tg == nil {
		return nil
	}
	return t.pools.poolOf(tg.Cluster)
}

// h2Body is an HTTP/2 response body whose Close ends the exchange at once. The
// transport's Close waits for the request body's writer unless the request's context is
// done, and that writer may be blocked reading the client's body (a gRPC stream the
// backend answered before the client half-closed it): with the client's body behind the
// retry buffer, the client would then wait for a response the gateway already has.
// Cancelling first resets the backend's stream if it is still open (as Envoy resets an
// upstream stream whose response completed before its request) and is a no-op otherwise;
// the writer ends when the handler returns and the server closes the client's body.
type h2Body struct {
	io.ReadCloser
	cancel context.CancelFunc
	use    *h2Use // the cluster pool's connection (h2pool.go); nil: none
}

func (b *h2Body) Close() error {
	b.cancel()
	err := b.ReadCloser.Close()
	b.use.done()
	return err
}

// tlsTransport returns the pool of the TLS identity ct, making it when there is none. A
// new credential version of a cluster retires the pools of its older versions (their busy
// connections close when idle).
func (t *h2Transport) tlsTransport(ct *connTLS) *http2.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.tls[ct.key]; tr != nil {
		return tr
	}
	prefix := ct.cluster.Name + "|"
	for k, tr := range t.tls {
		if len(t.tls) >= maxTLSTransports || (strings.HasPrefix(k, prefix) && !strings.HasPrefix(k, prefix+ct.ct.version+"|")) {
			tr.CloseIdleConnections()
			delete(t.tls, k)
		}
	}
	tr := t.newTransport(func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		nc, err := t.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return h2Handshake(ctx, nc, addr, ct) // h2pool.go
	})
	t.tls[ct.key] = tr
	return tr
}

// CloseIdleConnections closes every pooled HTTP/2 connection without streams.
func (t *h2Transport) CloseIdleConnections() {
	t.h2c.CloseIdleConnections()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.tls {
		tr.CloseIdleConnections()
	}
}

// speaksH2 reports whether r goes to t's endpoint over HTTP/2: the cluster says HTTP/2,
// or says "the client's protocol" and the client spoke HTTP/2.
func speaksH2(r *http.Request, t *Target) bool {
	if t.Cluster == nil || t.Cluster.Spec == nil {
		return false
	}
	switch t.Cluster.Spec.Protocol {
	case snapshot.UpstreamHTTP2:
		return true
	case snapshot.UpstreamClientProtocol:
		return r.ProtoMajor == 2
	}
	return false
}
