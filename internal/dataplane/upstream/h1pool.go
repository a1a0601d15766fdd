package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
)

// conn returns a pooled idle connection to addr (reused true) or dials one, with TLS ct
// (nil: plaintext) and, with cp (the cluster's connection pool policy, nil: none), within
// the pool's limits (pool.go).
func (t *h1Transport) conn(ctx context.Context, addr string, cp *clusterPool, ct *connTLS) (c *h1Conn, reused bool, err error) {
	key := idleKey{cp: cp, addr: addr, tls: tlsKey(ct)}
	if cp != nil {
		return t.poolConnLean(ctx, key, ct)
	}
	if c = t.get(key); c != nil {
		return c, true, nil
	}
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return t.secure(ctx, nc, key, ct)
}

// idleKey names an idle list: an endpoint, the cluster pool when the cluster has a
// connection pool policy (its connections are its own), and the TLS identity ("" for
// plaintext), so a connection never serves another cluster's identity or plaintext.
type idleKey struct {
	cp   *clusterPool
	addr string
	tls  string
}

// secure originates TLS ct (nil: none) on the freshly dialled nc and sets the connection
// up. A failed handshake closes nc.
func (t *h1Transport) secure(ctx context.Context, nc net.Conn, key idleKey, ct *connTLS) (*h1Conn, bool, error) {
	raw := nc
	if ct != nil {
		var err error
		if nc, err = t.handshake(ctx, raw, key.addr, ct); err != nil {
			return nil, false, err
		}
	}
	return t.newConn(nc, raw, key), false, nil
}

// newConn sets up a freshly dialled connection nc over the socket raw (nc itself, or
// under TLS the connection TLS runs on).
func (t *h1Transport) newConn(nc, raw net.Conn, key idleKey) *h1Conn {
	rw := io.ReadWriter(nc)
	if key.tls == "" {
		if rc := tcpproxy.NetConn(nc); rc != nil {
			rw = rc // raw system calls, no sysmon wake-up per call (design 0025)
		}
	}
	lr := &readLimit{r: rw, n: math.MaxInt64}
	c := &h1Conn{nc: nc, lr: lr, br: bufio.NewReader(lr), bw: bufio.NewWriter(rw), key: key, tls: key.tls != ""}
	if sc, ok := raw.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.probe = newIdleProbe(rc) // once per connection: the idle check runs per reuse
		}
	}
	c.expire = func() { _ = nc.SetDeadline(time.Unix(1, 0)) }
	return c
}

// readLimit fails reads once n bytes were read (n is reset per response head).
type readLimit struct {
	r io.Reader
	n int64
}

func (l *readLimit) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("upstream response headers too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// idleCheck is what a look at an idle pooled connection found.
type idleCheck uint8

const (
	idleClean idleCheck = iota // open, nothing to read: reusable
	idleData                   // bytes arrived while idle: an unsolicited response
	idleGone                   // closed by the upstream, reset or failed
)

func (t *h1Transport) get(key idleKey) *h1Conn {
	for {
		c := t.pop(key)
		if c == nil {
			return nil
		}
		// Every pooled connection is looked at before a request is written on it, however
		// recently it was used: bytes that arrived while it idled belong to no request
		// (the late body of a HEAD, 204 or 304, more body than Content-Length, a 408
		// before a close) and would otherwise be read as the next request's response —
		// another client's. See docs/design/0009.
		if t.reusable(c) {
			return c
		}
	}
}

// reusable looks at an idle connection (one non-blocking peek) and closes it if it holds
// bytes or was closed by the upstream, as http.Transport's readLoop does.
func (t *h1Transport) reusable(c *h1Conn) bool {
	st, first := c.probe.check()
	if st == idleClean && !(c.tls && tlsBuffered(c)) {
		return true
	}
	if c.tls {
		// Bytes on a TLS connection while idle: a close_notify, a late record; never
		// reused either way (and ciphertext is not worth logging).
		t.logger.Debug("idle upstream TLS connection became readable; closed", "endpoint", c.key)
	} else if st == idleData {
		t.logger.Warn("unsolicited response on idle upstream connection; closed", "endpoint", c.key, "start", string(first))
	}
	c.nc.Close()
	return false
}

// pop takes the most recently used idle connection of key.
func (t *h1Transport) pop(key idleKey) *h1Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.idle[key]
	if l == nil || len(l.conns) == 0 {
		return nil
	}
	c := l.conns[len(l.conns)-1]
	l.conns[len(l.conns)-1] = nil
	l.conns = l.conns[:len(l.conns)-1]
	if t.expired(c, time.Now()) { // the rest is older still
		t.closeIdle(l, len(l.conns))
		c.nc.Close()
		return nil
	}
	return c
}

// put returns c to its endpoint's idle list, closing it when the list is full or its
// cluster pool's per-connection limits retire it.
func (t *h1Transport) put(c *h1Conn) {
	if cp := c.key.cp; cp != nil {
		if retire(c) {
			c.nc.Close()
			return
		}
		defer cp.freed() // after t.mu is released: a pending request may take c now
	}
	c.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle == nil {
		t.idle = map[idleKey]*idleList{}
	}
	l := t.idle[c.key]
	if l == nil {
		l = &idleList{}
		t.idle[c.key] = l
	}
	if len(l.conns) >= t.maxIdle {
		c.nc.Close()
		return
	}
	l.conns = append(l.conns, c)
	if l.timer == nil {
		// One timer per endpoint sweeps its idle connections (see sweep).
		l.timer = time.AfterFunc(t.sweepInterval(), func() { t.sweep(c.key) })
	}
}

// sweepInterval is how often an endpoint's idle connections are swept: sweepEvery, at
// most idleTimeout.
func (t *h1Transport) sweepInterval() time.Duration {
	if t.sweepEvery <= 0 || t.sweepEvery > t.idleTimeout {
		return t.idleTimeout
	}
	return t.sweepEvery
}

// sweep closes key's connections idle for longer than idleTimeout, so an endpoint that
// gets no more traffic does not hold sockets forever, and looks at the others as a reuse
// would: one the upstream closed (its keep-alive timeout is often shorter than ours) or
// sent unsolicited bytes on is closed now rather than at its next reuse. The look costs
// one syscall per idle connection per sweep, nothing per request. The timer is re-armed
// while connections remain.
func (t *h1Transport) sweep(key idleKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.idle[key]
	if l == nil {
		return
	}
	now := time.Now()
	n := 0
	for n < len(l.conns) && now.Sub(l.conns[n].idleAt) > t.idleTimeout && key.cp == nil {
		n++
	}
	t.closeIdle(l, n)
	kept := l.conns[:0]
	for _, c := range l.conns {
		if key.cp != nil && t.expired(c, now) {
			c.nc.Close()
			continue
		}
		if t.reusable(c) {
			kept = append(kept, c)
		}
	}
	clear(l.conns[len(kept):])
	l.conns = kept
	if len(l.conns) == 0 {
		l.timer = nil
		delete(t.idle, key)
		return
	}
	l.timer.Reset(t.sweepInterval())
}

// closeIdle closes the n oldest connections of l. t.mu is held.
func (t *h1Transport) closeIdle(l *idleList, n int) {
	for _, c := range l.conns[:n] {
		c.nc.Close()
	}
	l.conns = append(l.conns[:0], l.conns[n:]...)
}

// CloseIdleConnections closes every idle connection, of both paths.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	for key, l := range t.idle {
		t.closeIdle(l, len(l.conns))
		if l.timer != nil {
			l.timer.Stop()
		}
		delete(t.idle, key)
	}
	tlsTransports := t.tlsTransports
	t.tlsTransports = nil
	t.mu.Unlock()
	t.fallback.CloseIdleConnections()
	for _, tr := range tlsTransports {
		tr.CloseIdleConnections()
	}
	t.closeIdlePools()
}
