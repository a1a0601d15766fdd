package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Observer receives the counters of the authz engine (internal/metrics implements it).
type Observer interface {
	// Decision: a policy decided (or, for AUDIT and dry-run, matched) a request. policy is
	// "" for the implicit deny when ALLOW policies exist and none matched.
	Decision(policy, action, decision string)
	// JWT: one token checked by one provider; result verified, invalid, expired,
	// unknown_issuer or jwks_unavailable.
	JWT(provider, result string)
	// JWKSFetch: one fetch of a jwksUri; result ok or error.
	JWKSFetch(uri, result string)
}

type policyObserver = Observer

type nopObserver struct{}

func (nopObserver) Decision(string, string, string) {}
func (nopObserver) JWT(string, string)              {}
func (nopObserver) JWKSFetch(string, string)        {}

// RuntimeOptions configure the long-lived part of authz.
type RuntimeOptions struct {
	// TrustedHops is Istio's numTrustedProxies (Envoy's xff_num_trusted_hops): remote.ip
	// and remoteIpBlocks use the TrustedHops-th address from the right of X-Forwarded-For.
	TrustedHops int
	// JWKSCAFile: PEM CA bundle trusted for jwksUri fetches, in addition to the system
	// roots.
	JWKSCAFile string
	// JWKSRefresh is the refresh period of fetched key sets (Istio's
	// PILOT_JWT_PUB_KEY_REFRESH_INTERVAL, default 20m).
	JWKSRefresh time.Duration
	// JWKSTimeout bounds one fetch when the rule sets no timeout (Istio's default 5s).
	JWKSTimeout    time.Duration
	TokenCacheSize int // verified tokens remembered (default 4096)
	Logger         *slog.Logger
	Observer       Observer
}

// Runtime owns what outlives a snapshot: the JWKS key sets and their refresh loops.
type Runtime struct {
	opts   RuntimeOptions
	logger *slog.Logger
	obs    Observer
	client *http.Client

	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	sets map[string]*jwksEntry
	used map[string]bool // URIs referenced since the last retainJWKS
}

// NewRuntime creates a runtime; Close stops its fetch loops.
func NewRuntime(o RuntimeOptions) (*Runtime, error) {
	if o.JWKSRefresh <= 0 {
		o.JWKSRefresh = 20 * time.Minute
	}
	if o.JWKSTimeout <= 0 {
		o.JWKSTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	// A transport of our own (no proxy from the environment, no shared global state).
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
	}
	if o.JWKSCAFile != "" {
		pem, err := os.ReadFile(o.JWKSCAFile)
		if err != nil {
			return nil, fmt.Errorf("jwks CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("jwks CA file %s: no PEM certificate", o.JWKSCAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runtime{
		opts: o, logger: o.Logger, obs: o.Observer,
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ctx:    ctx, cancel: cancel,
		sets: map[string]*jwksEntry{}, used: map[string]bool{},
	}, nil
}

// TrustedHops returns numTrustedProxies (consistentHash useSourceIp uses it too).
func (rt *Runtime) TrustedHops() int { return rt.opts.TrustedHops }

// Close stops every JWKS refresh loop.
func (rt *Runtime) Close() {
	if rt == nil {
		return
	}
	rt.cancel()
}

// jwksEntry is one jwksUri's key set, fetched and refreshed in the background. The last
// good key set survives failed refreshes; before the first success there is none (tokens
// are rejected, never accepted).
type jwksEntry struct {
	uri     string
	timeout time.Duration
	set     atomic.Pointer[jose.JSONWebKeySet]
	stop    context.CancelFunc
}

func (e *jwksEntry) keys() *jose.JSONWebKeySet { return e.set.Load() }

func (rt *Runtime) jwks(uri string, timeout time.Duration) *jwksEntry {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.used[uri] = true
	if e := rt.sets[uri]; e != nil {
		return e
	}
	if timeout <= 0 {
		timeout = rt.opts.JWKSTimeout
	}
	ctx, cancel := context.WithCancel(rt.ctx)
	e := &jwksEntry{uri: uri, timeout: timeout, stop: cancel}
	rt.sets[uri] = e
	go rt.refreshLoop(ctx, e)
	return e
}

// retainJWKS stops the loops of URIs no compile referenced since the previous call.
func (rt *Runtime) retainJWKS() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for uri, e := range rt.sets {
		if !rt.used[uri] {
			e.stop()
			delete(rt.sets, uri)
		}
	}
	rt.used = map[string]bool{}
}

// refreshLoop fetches now, then every JWKSRefresh; a failure retries with exponential
// backoff (1s doubling, capped at the refresh period).
func (rt *Runtime) refreshLoop(ctx context.Context, e *jwksEntry) {
	backoff := time.Second
	for {
		wait := rt.opts.JWKSRefresh
		if err := rt.fetch(ctx, e); err != nil {
			if ctx.Err() != nil {
				return
			}
			rt.logger.Warn("jwks fetch failed; keeping the last good key set", "uri", e.uri, "error", err, "retry", backoff, "haveKeys", e.keys() != nil)
			rt.obs.JWKSFetch(e.uri, "error")
			wait = min(backoff, wait)
			backoff *= 2
		} else {
			rt.obs.JWKSFetch(e.uri, "ok")
			backoff = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

const maxJWKSBytes = 1 << 20

func (rt *Runtime) fetch(ctx context.Context, e *jwksEntry) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.uri, nil)
	if err != nil {
		return err
	}
	resp, err := rt.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("key set larger than %d bytes", maxJWKSBytes)
	}
	ks, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("bad key set: %w", err)
	}
	if old := e.set.Swap(ks); old == nil {
		rt.logger.Info("jwks fetched", "uri", e.uri, "keys", len(ks.Keys))
	}
	return nil
}
