package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
// nothing cluster-specific). TLS connections are pooled per cluster and TLS configuration:
// a cluster whose ClientTLS returns a different *tls.Config (a rotated client credential)
// gets a fresh pool, and the previous one's connections close once idle.
type h2Transport struct {
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	idleTimeout time.Duration
	respHeader  time.Duration // Options.ResponseHeaderTimeout; 0: none
	h2c         *http2.Transport

	mu  sync.Mutex
	tls map[string]*h2TLSPool // by cluster name
}

type h2TLSPool struct {
	src *tls.Config // as ClientTLS returned it
	tr  *http2.Transport
}

func newH2Transport(dial func(ctx context.Context, network, addr string) (net.Conn, error), idleTimeout, respHeader time.Duration) *h2Transport {
	t := &h2Transport{dial: dial, idleTimeout: idleTimeout, respHeader: respHeader, tls: make(map[string]*h2TLSPool)}
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

// errH2Upgrade: an HTTP/1.1 protocol upgrade (WebSocket) cannot go to an HTTP/2 cluster.
var errH2Upgrade = errors.New("upstream: protocol upgrade to an HTTP/2 cluster (extended CONNECT is not originated)")

func (t *h2Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tg, _ := req.Context().Value(targetKey{}).(*Target)
	if _, ok := req.Header["Upgrade"]; ok {
		return nil, errH2Upgrade
	}
	var cfg *tls.Config
	if tg != nil && tg.Cluster != nil {
		var err error
		if cfg, err = tg.Cluster.ClientTLS(); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(req.Context())
	out := req.WithContext(ctx)
	tr := t.h2c
	if cfg != nil {
		tr = t.tlsTransport(tg.Cluster.Name, cfg)
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
		return nil, err
	}
	resp.Body = &h2Body{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
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
}

func (b *h2Body) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}

// tlsTransport returns the cluster's pool for cfg, making it (and retiring the previous
// one) when cfg is not the configuration it was made for.
func (t *h2Transport) tlsTransport(cluster string, cfg *tls.Config) *http2.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.tls[cluster]; p != nil && p.src == cfg {
		return p.tr
	} else if p != nil {
		p.tr.CloseIdleConnections() // busy ones close when idle (IdleConnTimeout)
	}
	h2cfg := cfg.Clone()
	h2cfg.NextProtos = []string{"h2"}
	tr := t.newTransport(func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		nc, err := t.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(nc, h2cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("upstream %s: tls handshake: %w", addr, err)
		}
		return tc, nil
	})
	t.tls[cluster] = &h2TLSPool{src: cfg, tr: tr}
	return tr
}

// CloseIdleConnections closes every pooled HTTP/2 connection without streams.
func (t *h2Transport) CloseIdleConnections() {
	t.h2c.CloseIdleConnections()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.tls {
		p.tr.CloseIdleConnections()
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
