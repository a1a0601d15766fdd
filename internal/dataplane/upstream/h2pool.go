package upstream

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// HTTP/2 connections of a cluster with a connection pool policy (design 0035). The shared
// h2c transport and the per-TLS-identity transports of h2.go dial with the gateway's
// defaults and pool by endpoint only, which would leave connectTimeout, tcpKeepalive,
// idleTimeout, maxRequestsPerConnection, maxConnectionDuration and maxConnections of an
// HTTP/2 cluster silently unapplied. Such a cluster gets an h2Pool instead: an x/net
// Transport whose ClientConnPool is ours, so that
//   - connections are dialled by the cluster pool (pendingDial/poolDial: maxConnections,
//     http1MaxPendingRequests, connectTimeout, tcpKeepalive, the PROXY header), counted
//     until closed;
//   - a connection that carried maxRequestsPerConnection streams, or is older than
//     maxConnectionDuration, takes no new stream and is closed once its streams end
//     (Envoy drains it the same way);
//   - idle connections close after the pool's idle timeout (the Transport's
//     IdleConnTimeout, rebuilt when it changes);
//   - on explicit HTTP/2 clusters, a connection takes at most maxConcurrentStreams
//     streams (another is opened beyond), and http2KeepAlive sets the PING interval
//     (after that long without frames) and timeout.
// A cluster without a pool policy is unchanged (h2.go).

// h2Pool is the HTTP/2 pool of one cluster pool and TLS identity.
type h2Pool struct {
	t   *h1Transport
	cp  *clusterPool
	ct  *connTLS // nil: h2c
	tr  *http2.Transport
	key h2PoolKey

	mu      sync.Mutex
	conns   map[string][]*h2Conn
	dialing map[string]chan struct{} // per endpoint: one dial at a time
}

// h2Conn is one HTTP/2 connection of an h2Pool: its age and the streams it was given.
type h2Conn struct {
	cc   *http2.ClientConn
	born time.Time
	uses uint32
}

// h2Use records, in a request's context, the connection the pool gave it, so that the
// per-connection limits are applied when the exchange ends.
type h2Use struct {
	p *h2Pool
	c *h2Conn
}

type h2UseKey struct{}

// h2PoolKey is what an h2Pool is built for: a change makes a new pool.
type h2PoolKey struct {
	idle    int64  // IdleTimeoutMillis
	tls     string // tlsKey(ct)
	streams uint32 // maxConcurrentStreams (explicit HTTP/2 clusters only)
	ka      snapshot.H2Keepalive
}

// clusterH2 returns cp's HTTP/2 pool for the TLS ct (nil: h2c), built anew when its
// settings or the TLS identity changed; the previous one's connections stop taking
// streams and close when idle. explicit: the cluster is HTTP/2 by its port or
// h2UpgradePolicy (not useClientProtocol), so maxConcurrentStreams and http2KeepAlive
// apply, as Istio sets them only on explicit HTTP/2 protocol options.
func (t *h1Transport) clusterH2(cp *clusterPool, ct *connTLS, explicit bool) *h2Pool {
	sp := cp.spec.Load()
	k := h2PoolKey{idle: sp.IdleTimeoutMillis, tls: tlsKey(ct), ka: snapshot.H2Keepalive{IntervalMillis: 30_000, TimeoutMillis: 15_000}}
	if explicit {
		k.streams = sp.MaxConcurrentStreams
		if sp.H2Keepalive != nil {
			k.ka = *sp.H2Keepalive
		}
	}
	cp.mu.Lock()
	old := cp.h2
	if old != nil && old.key == k {
		cp.mu.Unlock()
		return old
	}
	p := &h2Pool{t: t, cp: cp, ct: ct, key: k, conns: map[string][]*h2Conn{}}
	p.tr = &http2.Transport{
		ConnPool:           p,
		AllowHTTP:          true,
		DisableCompression: true,
		IdleConnTimeout:    time.Duration(k.idle) * time.Millisecond,
		ReadIdleTimeout:    time.Duration(k.ka.IntervalMillis) * time.Millisecond,
		PingTimeout:        time.Duration(k.ka.TimeoutMillis) * time.Millisecond,
	}
	cp.h2 = p
	cp.mu.Unlock()
	if old != nil {
		old.retireAll() // closing counts the connections out (cp.mu): not under the lock
	}
	return p
}

// GetClientConn implements http2.ClientConnPool: a connection to addr with room for one
// more stream within the cluster's per-connection limits, else a new one. Dials to one
// endpoint are made one at a time, each after another look for room, so that requests
// arriving together share the connection being opened instead of each opening one (as
// Envoy counts a connecting connection's capacity).
func (p *h2Pool) GetClientConn(req *http.Request, addr string) (*http2.ClientConn, error) {
	got := p.take(addr)
	if got == nil {
		// From here the request is pending (http1MaxPendingRequests) until it has a
		// stream, the wait for the dial turn included: Envoy counts every request
		// without one.
		if err := p.t.enterPending(p.cp); err != nil {
			return nil, err
		}
		defer p.cp.pending.Add(-1)
		ctx := req.Context()
		sem := p.dialSem(addr)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		c, err := p.dial(ctx, addr)
		<-sem
		if err != nil {
			return nil, err
		}
		got = c
	}
	if use, _ := req.Context().Value(h2UseKey{}).(*h2Use); use != nil {
		use.p, use.c = p, got
	}
	return got.cc, nil
}

// take reserves a stream on a connection to addr with room for it, nil when none has.
// Connections found closing, closed or spent are dropped (the spent ones retired).
func (p *h2Pool) take(addr string) *h2Conn {
	sp := p.cp.spec.Load()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var got *h2Conn
	live := p.conns[addr][:0]
	for _, c := range p.conns[addr] {
		if st := c.cc.State(); st.Closed || st.Closing {
			continue
		}
		if spent(c, sp, now) {
			p.retireLocked(c)
			continue
		}
		live = append(live, c)
		if got == nil && p.room(c) && c.cc.ReserveNewRequest() {
			got = c
			c.uses++
		}
	}
	p.conns[addr] = live
	return got
}

// dialSem returns the semaphore serializing dials to addr.
func (p *h2Pool) dialSem(addr string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dialing == nil {
		p.dialing = map[string]chan struct{}{}
	}
	sem := p.dialing[addr]
	if sem == nil {
		sem = make(chan struct{}, 1)
		p.dialing[addr] = sem
	}
	return sem
}

// dial returns a connection to addr with one stream reserved for the caller: one of
// the pool's with room by then (a stream ended while the caller waited), else a new one
// opened through the cluster pool (maxConnections).
func (p *h2Pool) dial(ctx context.Context, addr string) (*h2Conn, error) {
	var got *h2Conn
	nc, err := p.t.waitDial(ctx, p.cp, addr, func() bool {
		got = p.take(addr)
		return got != nil
	}, func() { p.t.closeIdleOf(p.cp); p.closeIdle() })
	switch {
	case err != nil:
		return nil, err
	case nc == nil:
		return got, nil
	}
	if p.ct != nil {
		if nc, err = h2Handshake(ctx, nc, addr, p.ct); err != nil {
			return nil, err
		}
	}
	cc, err := p.tr.NewClientConn(nc)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	cc.ReserveNewRequest()
	c := &h2Conn{cc: cc, born: time.Now(), uses: 1}
	p.mu.Lock()
	p.conns[addr] = append(p.conns[addr], c)
	p.mu.Unlock()
	return c, nil
}

// MarkDead implements http2.ClientConnPool.
func (p *h2Pool) MarkDead(cc *http2.ClientConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, l := range p.conns {
		for i, c := range l {
			if c.cc == cc {
				p.conns[addr] = append(l[:i:i], l[i+1:]...)
				return
			}
		}
	}
}

// room reports whether c is below maxConcurrentStreams (the backend's own limit is
// x/net's to enforce).
func (p *h2Pool) room(c *h2Conn) bool {
	if p.key.streams == 0 {
		return true
	}
	st := c.cc.State()
	return st.StreamsActive+st.StreamsReserved+st.StreamsPending < int(p.key.streams)
}

// spent reports whether c may take no new stream: it carried maxRequestsPerConnection
// streams or is older than maxConnectionDuration.
func spent(c *h2Conn, sp *snapshot.ConnectionPool, now time.Time) bool {
	return (sp.MaxRequestsPerConnection > 0 && c.uses >= sp.MaxRequestsPerConnection) ||
		(sp.MaxConnectionDurationMillis > 0 && now.Sub(c.born) >= time.Duration(sp.MaxConnectionDurationMillis)*time.Millisecond)
}

// retireLocked stops c from taking streams and closes it now if it has none; otherwise
// x/net closes it when its last stream ends. p.mu is held, so no stream of ours is being
// reserved on it meanwhile.
func (p *h2Pool) retireLocked(c *h2Conn) {
	c.cc.SetDoNotReuse()
	if st := c.cc.State(); st.StreamsActive == 0 && st.StreamsReserved == 0 {
		_ = c.cc.Close()
	}
}

// done applies the per-connection limits to the connection u's exchange used, once the
// exchange is over.
func (u *h2Use) done() {
	if u == nil || u.c == nil {
		return
	}
	p := u.p
	p.mu.Lock()
	if spent(u.c, p.cp.spec.Load(), time.Now()) {
		p.retireLocked(u.c)
	}
	p.mu.Unlock()
	p.cp.freed() // a pending request may take the stream
}

// closeIdle closes the pool's connections without streams.
func (p *h2Pool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.conns {
		for _, c := range l {
			if st := c.cc.State(); st.StreamsActive == 0 && st.StreamsReserved == 0 {
				_ = c.cc.Close()
			}
		}
	}
}

// retireAll retires every connection of a pool that was replaced.
func (p *h2Pool) retireAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.conns {
		for _, c := range l {
			p.retireLocked(c)
		}
	}
	p.conns = map[string][]*h2Conn{}
}

// closeIdleH2 closes the idle HTTP/2 connections of every cluster pool (shutdown).
func (t *h1Transport) closeIdleH2() {
	t.pools.mu.Lock()
	var ps []*h2Pool
	for _, cp := range t.pools.byName {
		cp.mu.Lock()
		if cp.h2 != nil {
			ps = append(ps, cp.h2)
		}
		cp.mu.Unlock()
	}
	t.pools.mu.Unlock()
	for _, p := range ps {
		p.closeIdle()
	}
}

// h2Handshake originates TLS with ALPN h2 on nc (closed on failure) and checks that h2 was
// negotiated.
func h2Handshake(ctx context.Context, nc net.Conn, addr string, ct *connTLS) (net.Conn, error) {
	tc, err := ct.cluster.handshakeALPN(ctx, nc, addr, ct.ct, ct.sni, []string{"h2"}) // closes nc on failure
	if err != nil {
		return nil, err
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		_ = tc.Close()
		return nil, dialError(addr, ct.cluster.tlsFailure(TLSHandshakeFailed, errNoH2(addr, p)))
	}
	return tc, nil
}
