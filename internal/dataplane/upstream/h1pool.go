package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
)

// conn returns a pooled idle connection to addr (reused true) or dials one.
func (t *h1Transport) conn(ctx context.Context, addr string) (c *h1Conn, reused bool, err error) {
	if c = t.get(addr); c != nil {
		return c, true, nil
	}
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	rw := io.ReadWriter(nc)
	if raw := tcpproxy.NetConn(nc); raw != nil {
		rw = raw // raw system calls, no sysmon wake-up per call (design 0025)
	}
	lr := &readLimit{r: rw, n: math.MaxInt64}
	c = &h1Conn{nc: nc, lr: lr, br: bufio.NewReader(lr), bw: bufio.NewWriter(rw), key: addr}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.probe = newIdleProbe(rc) // once per connection: the idle check runs per reuse
		}
	}
	c.expire = func() { _ = nc.SetDeadline(time.Unix(1, 0)) }
	return c, false, nil
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

func (t *h1Transport) get(addr string) *h1Conn {
	for {
		c := t.pop(addr)
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
	if st == idleClean {
		return true
	}
	if st == idleData {
		t.logger.Warn("unsolicited response on idle upstream connection; closed", "endpoint", c.key, "start", string(first))
	}
	c.nc.Close()
	return false
}

// pop takes the most recently used idle connection to addr.
func (t *h1Transport) pop(addr string) *h1Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.idle[addr]
	if l == nil || len(l.conns) == 0 {
		return nil
	}
	c := l.conns[len(l.conns)-1]
	l.conns[len(l.conns)-1] = nil
	l.conns = l.conns[:len(l.conns)-1]
	if time.Since(c.idleAt) > t.idleTimeout { // the rest is older still
		t.closeIdle(l, len(l.conns))
		c.nc.Close()
		return nil
	}
	return c
}

// put returns c to its endpoint's idle list, closing it when the list is full.
func (t *h1Transport) put(c *h1Conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle == nil {
		t.idle = map[string]*idleList{}
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
func (t *h1Transport) sweep(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.idle[key]
	if l == nil {
		return
	}
	n := 0
	for n < len(l.conns) && time.Since(l.conns[n].idleAt) > t.idleTimeout {
		n++
	}
	t.closeIdle(l, n)
	kept := l.conns[:0]
	for _, c := range l.conns {
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
	t.mu.Unlock()
	t.fallback.CloseIdleConnections()
}
