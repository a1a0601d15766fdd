package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Connection pools of clusters with a trafficPolicy.connectionPool (design 0022). A
// cluster without one (Spec.Pool nil) takes none of this: its connections are pooled by
// endpoint, shared with every other such cluster, as before.
//
// A cluster with one gets a clusterPool, kept by cluster name across snapshots (its
// counters must survive a configuration change, as Envoy's circuit breakers do for an
// unchanged cluster). Its connections are its own (idle lists keyed by pool and endpoint;
// requests with a body go through its own http.Transport) so that the per-connection
// settings apply to them, and every connection it opens is counted until closed.
//
// Envoy's semantics, per cluster:
//   - maxRequests (http2MaxRequests): requests in progress; one more gets 503 UO.
//   - A request that finds no idle connection is pending (waiting for a connection to be
//     dialled or freed); maxPendingRequests (http1MaxPendingRequests) pending ones at
//     most, one more gets 503 UO.
//   - maxConnections: open connections. At the limit a pending request waits for one of
//     the cluster's connections to its endpoint to be freed, or for any to close. As
//     Envoy's pool, an endpoint with no connection at all still gets one, so a pending
//     request never waits on connections to other endpoints; each wait counts as a
//     max_connections overflow (Envoy's upstream_cx_overflow).

// Breaker names, the "breaker" label of the overflow metric. Envoy's statistics:
// upstream_cx_overflow, upstream_rq_pending_overflow (both pending and requests), and
// upstream_rq_retry_overflow.
const (
	BreakerMaxConnections     = "max_connections"
	BreakerMaxPendingRequests = "max_pending_requests"
	BreakerMaxRequests        = "max_requests"
	BreakerMaxRetries         = "max_retries"
)

// OverflowError is a request refused by a circuit breaker: 503, response flag UO.
type OverflowError struct{ Breaker string }

func (e *OverflowError) Error() string {
	return "upstream overflow: circuit breaker " + e.Breaker + " reached"
}

// IsOverflow reports whether err is (or wraps) an OverflowError.
func IsOverflow(err error) bool {
	var oe *OverflowError
	return errors.As(err, &oe)
}

// clusterPool is the connection pool state of one cluster with a connection pool policy.
type clusterPool struct {
	name string
	spec atomic.Pointer[snapshot.ConnectionPool] // the latest snapshot's

	active  atomic.Int64 // requests in progress (maxRequests)
	pending atomic.Int64 // requests waiting for a connection (maxPendingRequests)

	mu    sync.Mutex
	conns int64            // open connections (maxConnections)
	per   map[string]int64 // open connections by endpoint
	wake  chan struct{}    // closed (and replaced) when a connection is freed or closed
	// tr serves the requests that do not take the lean path; rebuilt when the pool's
	// settings change (built for trSpec).
	tr     *http.Transport
	trSpec snapshot.ConnectionPool
	trKA   snapshot.TCPKeepalive
	trTLS  string // the TLS identity tr dials with (tlsKey); a request of another rebuilds it

	h2 *h2Pool // HTTP/2 connections (h2pool.go)
}

// pools is the Proxy's registry of cluster pools.
type pools struct {
	mu       sync.Mutex
	byName   map[string]*clusterPool
	overflow func(cluster, breaker string) // Options.Overflow; never nil
}

// poolOf returns the pool of cl, nil when cl has no connection pool policy. The pointer is
// cached on the snapshot's Cluster, so the registry is consulted once per snapshot.
func (t *h1Transport) poolOf(cl *Cluster) *clusterPool {
	if cl == nil || cl.Spec == nil || cl.Spec.Pool == nil {
		return nil
	}
	if cp := cl.pool.Load(); cp != nil {
		return cp
	}
	t.pools.mu.Lock()
	cp := t.pools.byName[cl.Name]
	if cp == nil {
		if t.pools.byName == nil {
			t.pools.byName = map[string]*clusterPool{}
		}
		cp = &clusterPool{name: cl.Name, per: map[string]int64{}, wake: make(chan struct{})}
		t.pools.byName[cl.Name] = cp
	}
	t.pools.mu.Unlock()
	cp.spec.Store(cl.Spec.Pool)
	cl.pool.Store(cp)
	return cp
}

// admit counts a request in progress, or refuses it (maxRequests). done undoes it.
func (t *h1Transport) admit(cp *clusterPool) error {
	n := cp.active.Add(1)
	if max := cp.spec.Load().MaxRequests; max > 0 && n > int64(max) {
		cp.active.Add(-1)
		t.pools.overflow(cp.name, BreakerMaxRequests)
		return &OverflowError{Breaker: BreakerMaxRequests}
	}
	return nil
}

func (cp *clusterPool) done() { cp.active.Add(-1) }

// waiter returns the channel the next freed or closed connection closes.
func (cp *clusterPool) waiter() <-chan struct{} {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.wake
}

// signal wakes every pending request (a connection was freed or closed). cp.mu is held.
func (cp *clusterPool) signal() {
	close(cp.wake)
	cp.wake = make(chan struct{})
}

// freed is called when one of cp's connections went back to its idle list.
func (cp *clusterPool) freed() {
	cp.mu.Lock()
	cp.signal()
	cp.mu.Unlock()
}

// slot reserves a connection to addr within maxConnections (see the package comment for
// Envoy's exception), false when the pending request must wait.
func (cp *clusterPool) slot(addr string) bool {
	max := int64(cp.spec.Load().MaxConnections)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if max > 0 && cp.conns >= max && cp.per[addr] > 0 {
		return false
	}
	cp.conns++
	cp.per[addr]++
	return true
}

// release gives back addr's connection slot (the connection closed, or its dial failed).
func (cp *clusterPool) release(addr string) {
	cp.mu.Lock()
	cp.conns--
	if cp.per[addr]--; cp.per[addr] <= 0 {
		delete(cp.per, addr)
	}
	cp.signal()
	cp.mu.Unlock()
}

// pendingDial is a request waiting for a connection to addr: it counts as pending
// (maxPendingRequests) until it has one, or an error (overflow, dial failure, the
// request's end). See waitDial for ready and reclaim.
func (t *h1Transport) pendingDial(ctx context.Context, cp *clusterPool, addr string, ready func() bool, reclaim func()) (net.Conn, error) {
	if err := t.enterPending(cp); err != nil {
		return nil, err
	}
	defer cp.pending.Add(-1)
	return t.waitDial(ctx, cp, addr, ready, reclaim)
}

// enterPending counts one more request of cp waiting for a connection, or counts and
// returns the max_pending_requests overflow when that would pass http1MaxPendingRequests.
// On success the caller decrements cp.pending when it stops waiting.
func (t *h1Transport) enterPending(cp *clusterPool) error {
	n := cp.pending.Add(1)
	if max := cp.spec.Load().MaxPendingRequests; max > 0 && n > int64(max) {
		cp.pending.Add(-1)
		t.pools.overflow(cp.name, BreakerMaxPendingRequests)
		return &OverflowError{Breaker: BreakerMaxPendingRequests}
	}
	return nil
}

// readyPoll is how often a pending request with a ready check looks again without a
// signal: an HTTP/2 stream ended by a cancelled exchange is forgotten by x/net after the
// exchange's end was signalled, so that signal can come too early to see the room.
const readyPoll = 50 * time.Millisecond

// waitDial waits, as a request already counted pending, for a connection slot to addr
// within maxConnections and dials it. ready (nil: none) is asked each time a connection
// or stream is freed or closed whether it took a freed one; waitDial returns a nil
// connection then. At the limit, reclaim closes the cluster's idle connections of the
// other path (lean or http.Transport), which this request could not use: they would
// otherwise hold the slots.
func (t *h1Transport) waitDial(ctx context.Context, cp *clusterPool, addr string, ready func() bool, reclaim func()) (net.Conn, error) {
	var poll <-chan time.Time
	if ready != nil {
		tk := time.NewTicker(readyPoll)
		defer tk.Stop()
		poll = tk.C
	}
	counted := false
	for {
		wake := cp.waiter()
		if ready != nil && ready() {
			return nil, nil
		}
		if cp.slot(addr) {
			return t.poolDial(ctx, cp, addr)
		}
		if !counted {
			counted = true
			t.pools.overflow(cp.name, BreakerMaxConnections)
		}
		reclaim()
		select {
		case <-wake:
		case <-poll:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// poolDial dials addr with cp's connection settings, its slot already reserved; the slot
// is given back when the connection closes (or now, if the dial fails).
func (t *h1Transport) poolDial(ctx context.Context, cp *clusterPool, addr string) (net.Conn, error) {
	sp := cp.spec.Load()
	d := Dialer(sp, time.Duration(sp.ConnectTimeoutMillis)*time.Millisecond)
	nc, err := proxyDial(d.DialContext, t.header)(ctx, "tcp", addr) // proxyproto.go
	if err != nil {
		cp.release(addr)
		return nil, err
	}
	pc := &poolConn{Conn: nc, cp: cp, addr: addr, born: time.Now()}
	if tc, ok := nc.(*net.TCPConn); ok {
		return &poolTCPConn{TCPConn: tc, poolConn: pc}, nil
	}
	return pc, nil
}

// Dialer dials with p's TCP settings (timeout, keep-alive; none unless p asks, as
// Envoy's upstream sockets); HTTP and L4 upstream connections alike.
func Dialer(p *snapshot.ConnectionPool, timeout time.Duration) net.Dialer {
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	if ka := p.Keepalive; ka != nil {
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}
		if ka.TimeSeconds > 0 {
			d.KeepAliveConfig.Idle = time.Duration(ka.TimeSeconds) * time.Second
		}
		if ka.IntervalSeconds > 0 {
			d.KeepAliveConfig.Interval = time.Duration(ka.IntervalSeconds) * time.Second
		}
		if ka.Probes > 0 {
			d.KeepAliveConfig.Count = int(ka.Probes)
		}
	}
	return d
}

// poolConn is a connection of a cluster pool: counted until closed, with its age and the
// requests it carried (the per-connection limits).
type poolConn struct {
	net.Conn
	cp     *clusterPool
	addr   string
	born   time.Time
	uses   atomic.Uint32
	closed atomic.Bool
}

func (c *poolConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.cp.release(c.addr)
	}
	return err
}

// last counts one more request on c and reports whether it must be the last one: the
// connection reached maxRequestsPerConnection or maxConnectionDuration.
func (c *poolConn) last(sp *snapshot.ConnectionPool) bool {
	n := c.uses.Add(1)
	return (sp.MaxRequestsPerConnection > 0 && n >= sp.MaxRequestsPerConnection) || c.aged(sp, time.Now())
}

// aged reports whether c is older than maxConnectionDuration.
func (c *poolConn) aged(sp *snapshot.ConnectionPool, now time.Time) bool {
	return sp.MaxConnectionDurationMillis > 0 && now.Sub(c.born) >= time.Duration(sp.MaxConnectionDurationMillis)*time.Millisecond
}

// poolTCPConn keeps *net.TCPConn's methods (SyscallConn for the idle check, ReadFrom,
// CloseWrite) visible through the counting wrapper.
type poolTCPConn struct {
	*net.TCPConn
	*poolConn
}

func (c *poolTCPConn) Close() error                       { return c.poolConn.Close() }
func (c *poolTCPConn) Read(p []byte) (int, error)         { return c.TCPConn.Read(p) }
func (c *poolTCPConn) Write(p []byte) (int, error)        { return c.TCPConn.Write(p) }
func (c *poolTCPConn) LocalAddr() net.Addr                { return c.TCPConn.LocalAddr() }
func (c *poolTCPConn) RemoteAddr() net.Addr               { return c.TCPConn.RemoteAddr() }
func (c *poolTCPConn) SetDeadline(t time.Time) error      { return c.TCPConn.SetDeadline(t) }
func (c *poolTCPConn) SetReadDeadline(t time.Time) error  { return c.TCPConn.SetReadDeadline(t) }
func (c *poolTCPConn) SetWriteDeadline(t time.Time) error { return c.TCPConn.SetWriteDeadline(t) }

// asPoolConn returns the pool bookkeeping of nc, nil for a connection of no cluster pool.
func asPoolConn(nc net.Conn) *poolConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	switch c := nc.(type) {
	case *poolTCPConn:
		return c.poolConn
	case *poolConn:
		return c
	}
	return nil
}

// poolConnLean returns an idle connection of cp to addr, or dials one within the pool's
// limits (the lean path's conn for a cluster with a pool policy).
func (t *h1Transport) poolConnLean(ctx context.Context, key idleKey, ct *connTLS) (c *h1Conn, reused bool, err error) {
	cp, addr := key.cp, key.addr
	if c = t.get(key); c != nil {
		return c, true, nil
	}
	nc, err := t.pendingDial(ctx, cp, addr, func() bool {
		c = t.get(key)
		return c != nil
	}, func() {
		cp.mu.Lock()
		tr := cp.tr
		cp.mu.Unlock()
		if tr != nil {
			tr.CloseIdleConnections()
		}
	})
	switch {
	case err != nil:
		return nil, false, err
	case nc == nil:
		return c, true, nil
	}
	return t.secure(ctx, nc, key, ct)
}

// expired reports whether the idle connection c must be closed rather than reused.
func (t *h1Transport) expired(c *h1Conn, now time.Time) bool {
	if c.key.cp == nil {
		return now.Sub(c.idleAt) > t.idleTimeout
	}
	sp := c.key.cp.spec.Load()
	if idle := time.Duration(sp.IdleTimeoutMillis) * time.Millisecond; idle > 0 && now.Sub(c.idleAt) > idle {
		return true
	}
	pc := asPoolConn(c.nc)
	return pc != nil && pc.aged(sp, now)
}

// retire reports whether c, done with a request, must be closed rather than pooled: its
// pool's per-connection limits.
func retire(c *h1Conn) bool {
	if c.key.cp == nil {
		return false
	}
	pc := asPoolConn(c.nc)
	return pc != nil && pc.last(c.key.cp.spec.Load())
}

// transport returns cp's http.Transport for the requests that do not take the lean path,
// built for its current settings and the TLS ct (nil: plaintext) of the request.
func (t *h1Transport) transport(cp *clusterPool, ct *connTLS) *http.Transport {
	sp := cp.spec.Load()
	var ka snapshot.TCPKeepalive
	if sp.Keepalive != nil {
		ka = *sp.Keepalive
	}
	cur := *sp
	cur.Keepalive = nil
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.tr != nil && cp.trSpec == cur && cp.trKA == ka && cp.trTLS == tlsKey(ct) {
		return cp.tr
	}
	if old := cp.tr; old != nil {
		// Closing counts the connections out (cp.mu): not under the lock.
		defer func() { go old.CloseIdleConnections() }()
	}
	fb := t.fallback
	cp.tr = &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			// http.Transport dials only when it has no idle connection for the request,
			// which is then pending; one it frees meanwhile is taken instead of the dial.
			nc, err := t.pendingDial(ctx, cp, addr, nil, func() { t.closeIdleOf(cp) })
			if err != nil || ct == nil {
				return nc, err
			}
			return t.handshake(ctx, nc, addr, ct) // closes nc (its slot) on failure
		},
		MaxIdleConnsPerHost:   fb.MaxIdleConnsPerHost,
		IdleConnTimeout:       time.Duration(sp.IdleTimeoutMillis) * time.Millisecond,
		ResponseHeaderTimeout: fb.ResponseHeaderTimeout,
		ExpectContinueTimeout: fb.ExpectContinueTimeout,
		DisableCompression:    true,
		DisableKeepAlives:     sp.MaxRequestsPerConnection == 1,
	}
	cp.trSpec, cp.trKA, cp.trTLS = cur, ka, tlsKey(ct)
	return cp.tr
}

// roundTripPool sends req (one that does not take the lean path) over cp's transport. A
// connection that reaches maxRequestsPerConnection or maxConnectionDuration with this
// request carries it with "Connection: close" (decided when the transport hands the
// connection out, before the request is written): the upstream closes the connection
// after its response, as HTTP/1.1 requires, and the transport does not reuse it.
func (t *h1Transport) roundTripPool(cp *clusterPool, ct *connTLS, req *http.Request) (*http.Response, error) {
	tr := t.transport(cp, ct)
	sp := cp.spec.Load()
	if (sp.MaxRequestsPerConnection > 1 || sp.MaxConnectionDurationMillis > 0) && req.Header.Get("Upgrade") == "" {
		h := req.Header
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if pc := asPoolConn(info.Conn); pc != nil && pc.last(sp) {
				h.Set("Connection", "close")
			}
		}}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	return tr.RoundTrip(req)
}

// closeIdleOf closes the lean path's idle connections of cp.
func (t *h1Transport) closeIdleOf(cp *clusterPool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, l := range t.idle {
		if key.cp == cp {
			t.closeIdle(l, len(l.conns))
		}
	}
}

// closeIdlePools closes the idle connections of every cluster pool's transport.
func (t *h1Transport) closeIdlePools() {
	t.pools.mu.Lock()
	defer t.pools.mu.Unlock()
	for _, cp := range t.pools.byName {
		cp.mu.Lock()
		tr := cp.tr
		cp.mu.Unlock()
		if tr != nil {
			tr.CloseIdleConnections() // counts the connections out: cp.mu not held
		}
	}
}
