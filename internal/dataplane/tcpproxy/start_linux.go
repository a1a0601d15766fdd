//go:build linux

package tcpproxy

import (
	"net"
	"net/netip"
	"os"
	"syscall"
)

// Streams carried by the loop from the connect to the end (design 0036, step 2b). A
// connection the loop accepted is given to Acceptor.Conn still registered in its slot
// (modeHeld); Start dials the upstream into the same slot (its events carry the slot and
// generation, side 1), so the client needs no epoll_ctl at all between its hello and its
// stream's end. The connect's first event continues the stream on the loop's goroutine
// (SO_ERROR, StreamSpec.Dialed, the PROXY header and the prefix written), the connect
// timeout is a deadline of the loop's scan, and the stream's end closes both raw sockets
// and calls StreamSpec.Done there: no goroutine per connection, no park and ready. A
// stream that moves bulk data still leaves the loop for the goroutine path (splice),
// on a worker, and Done runs there.

// Start carries sp's stream for c, a connection given to Acceptor.Conn, in c's loop. It
// must be called from Conn (on the loop's goroutine). false: Start does not apply (c is
// not held by its loop, sp.Addr is not an IP address and port) and nothing was done:
// carry the stream with DialLoop and Pipe. true: Dialed and Done will be called (maybe
// before Start returns), and the stream owns c; Close(c), or c.Close(), ends it.
func (x *Proxy) Start(c *Upstream, sp *StreamSpec) bool {
	s := c.s
	if x.Engine != EngineLoop || s == nil || s.mode.Load() != modeHeld {
		return false
	}
	ap, err := netip.ParseAddrPort(sp.Addr)
	if err != nil {
		return false
	}
	l := s.l
	// From here a Close of c (another goroutine: the listener's) ends the stream
	// through the loop (closing): under l.mu, as Close looks.
	l.mu.Lock()
	s.spec, s.started = sp, l.now
	s.p = &pipe{client: c, idle: sp.Idle, cnt: sp.Counter, buffers: &x.buffers}
	closed := int(s.slot) >= len(l.slots) || l.slots[s.slot] != s // Close came first: c is closed
	s.mode.Store(modeDial)
	if sp.Timeout > 0 {
		l.scan = min(l.scan, tick(sp.Timeout))
	}
	l.mu.Unlock()
	if closed {
		l.dialFailed(s, ErrAborted)
		return true
	}
	raddr := net.TCPAddrFromAddrPort(ap)
	up, err := connectRaw(ap, sp.Keepalive)
	if err != nil {
		l.dialFailed(s, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err})
		return true
	}
	up.s = s
	s.p.upstream = up
	s.up = lside{conn: up, rc: upstreamRaw{up}, out: true, token: s.token(1)}
	l.mu.Lock()
	errno := l.epollCtl(syscall.EPOLL_CTL_ADD, up.fd, &s.up)
	l.mu.Unlock()
	if errno != 0 {
		l.dialFailed(s, os.NewSyscallError("epoll_ctl", errno))
	}
	l.repoll = true
	return true
}

// connecting continues s on an event of either socket while its upstream connects.
func (l *loop) connecting(s *lstream) {
	if s.aborted.Load() {
		l.dialFailed(s, ErrAborted)
		return
	}
	if !s.up.writable { // the client's event: recorded for the stream
		return
	}
	var err error
	if cerr := s.up.rc.Control(func(fd uintptr) { err = soError(int(fd)) }); cerr != nil {
		err = cerr
	}
	if err == nil && len(s.spec.Header) > 0 {
		_, err = s.up.conn.Write(s.spec.Header)
	}
	if err != nil {
		l.dialFailed(s, err)
		return
	}
	if !s.spec.Dialed(nil) {
		l.endBefore(s)
		return
	}
	l.startCopy(s)
}

// dialFailed ends s, whose connect failed (or was aborted): Dialed with the error (the
// refusal is counted before the client sees its close), both sockets closed, Done.
func (l *loop) dialFailed(s *lstream, err error) {
	if s.mode.Load() != modeDial { // ended already
		return
	}
	if _, ok := err.(*net.OpError); !ok && err != ErrAborted {
		var addr net.Addr
		if u, ok := s.p.upstream.(*Upstream); ok {
			addr = u.remote
		}
		err = &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: err}
	}
	s.spec.Dialed(err)
	l.endBefore(s)
}

// endBefore ends s before its copy started (once).
func (l *loop) endBefore(s *lstream) {
	l.mu.Lock()
	if s.mode.Load() != modeDial {
		l.mu.Unlock()
		return
	}
	if int(s.slot) < len(l.slots) && l.slots[s.slot] == s {
		l.removeLocked(s)
	}
	s.mode.Store(modeCaller)
	l.mu.Unlock()
	l.complete(s)
}

// startCopy starts s's copy: the prefix first (it fits an empty send buffer; what does
// not waits as any pending bytes), then what either socket has.
func (l *loop) startCopy(s *lstream) {
	p := s.p
	s.toUp = ldir{src: &s.client, dst: &s.up, total: &p.received, count: p.cnt.Received}
	s.down = ldir{src: &s.up, dst: &s.client, total: &p.sent, count: p.cnt.Sent}
	s.outerFn, s.innerFn, s.noopFn = s.outer, s.inner, func(uintptr) {}
	s.client.writable, s.up.writable = true, true
	s.idle, s.cnt, s.last = s.spec.Idle, p.cnt, l.now
	l.mu.Lock()
	if s.idle > 0 {
		l.scan = min(l.scan, tick(s.idle))
	}
	s.mode.Store(modeLoop)
	l.mu.Unlock()
	if pre := s.spec.Prefix; len(pre) > 0 && !s.aborted.Load() {
		var w int
		var e syscall.Errno
		if s.up.rc.Control(func(fd uintptr) { w, e = send(int(fd), pre) }) != nil || e != 0 && e != syscall.EAGAIN {
			s.failed = true
		} else if w == len(pre) {
			s.moved(&s.toUp, w)
		} else if !s.queue(&s.toUp, pre[max(w, 0):], len(pre)) {
			s.failed = true
		}
	}
	if s.failed {
		l.finish(s)
		return
	}
	l.process(s) // an abort since the check above: process ends it
}

// queue keeps b, the unwritten part of a chunk of n bytes, pending in d until d's
// destination is writable; false when b does not fit a buffer or the registration for
// writability failed.
func (s *lstream) queue(d *ldir, b []byte, n int) bool {
	if len(b) > bufSize {
		return false
	}
	var ok bool
	_ = d.dst.rc.Control(func(fd uintptr) { ok = s.l.blocked(d.dst, int(fd)) })
	if !ok {
		return false
	}
	d.pbuf, _ = s.p.buffers.Get().(*[bufSize]byte)
	if d.pbuf == nil {
		d.pbuf = new([bufSize]byte)
	}
	d.pend, d.chunk = d.pbuf[:copy(d.pbuf[:], b)], n
	return true
}

// complete closes s's sockets and calls Done; after a hand-off for bulk data the copy
// continues on a worker first.
func (l *loop) complete(s *lstream) {
	p := s.p
	if s.handoff {
		run := func() bool {
			if p.toNet() {
				p.copyRest(s.spec.Workers, s.toUp.done, s.down.done)
			}
			closeRaw(p)
			s.spec.Done(p.result())
			return true
		}
		if w := s.spec.Workers; w != nil {
			w.Go(run)
		} else {
			go run()
		}
		return
	}
	closeRaw(p)
	s.spec.Done(p.result())
}

// closeRaw closes a started stream's connections: raw sockets without entersyscall (each
// leaves the epoll instance with it), or what they became for the goroutine path.
func closeRaw(p *pipe) {
	for _, c := range []net.Conn{p.client, p.upstream} {
		switch u := c.(type) {
		case nil:
		case *Upstream:
			if u != nil {
				_ = u.closeSocket()
			}
		default:
			_ = c.Close()
		}
	}
}
