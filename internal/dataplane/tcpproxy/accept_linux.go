//go:build linux

package tcpproxy

import (
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// Accepting in the loop (design 0036, "Accepting in the loop"): a loop owns a listening
// socket's accepts. The socket is level-triggered in the loop's epoll: the loop
// accept4s one connection per poll while it is readable (and polls again at once), keeps
// each new connection as a raw socket (an *Upstream: never registered with Go's poller, no
// getsockname, closed without entersyscall) and reads its first message (the
// ClientHello) in the loop, with the timeout as a deadline of the loop's scan. Only a
// whole first message reaches Acceptor.Conn; a connection that ends, fails or times out
// before is closed without an answer. What Go's accept path costs per connection and
// this does not: the accept goroutine's wake-up, accept4 with entersyscall, the poller's
// registration, getsockname, and the park of the goroutine reading the hello.

// acceptor is a listening socket in a loop.
type acceptor struct {
	a       Acceptor
	rc      syscall.RawConn // the listener's: accept4 runs inside its Control
	l       *loop
	idx     int
	stopped bool // l.mu
	retry   bool // accept4 failed for want of resources: retried by the scan
	ready   bool // queued for this wake-up
}

// lnToken marks the epoll data of a listening socket (| its index in loop.acceptors).
const lnToken = 1 << 63

// Accept has a loop accept ln's connections until stop is called (before ln is closed).
// Nobody else may accept on ln meanwhile. The loop is not the engine: an error.
func (x *Proxy) Accept(ln *net.TCPListener, a Acceptor) (stop func(), err error) {
	if x.Engine != EngineLoop {
		return nil, errors.New("tcpproxy: accepting needs the loop engine")
	}
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	l := x.loops.pick()
	ac := &acceptor{a: a, rc: rc, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running {
		if err := l.start(); err != nil {
			return nil, err
		}
	}
	ac.idx = len(l.acceptors)
	l.acceptors = append(l.acceptors, ac)
	var errno syscall.Errno
	cerr := rc.Control(func(fd uintptr) {
		// Level-triggered (see accept): connections queued before now report at once.
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
		*(*uint64)(unsafe.Pointer(&ev.Fd)) = lnToken | uint64(ac.idx)
		_, _, errno = syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(l.epfd), syscall.EPOLL_CTL_ADD, fd, uintptr(unsafe.Pointer(&ev)), 0, 0)
	})
	if cerr == nil && errno != 0 {
		cerr = errno
	}
	if cerr != nil {
		l.acceptors = l.acceptors[:ac.idx]
		return nil, cerr
	}
	l.n++ // the loop runs while it accepts
	if a.Timeout > 0 {
		l.scan = min(l.scan, tick(a.Timeout))
	}
	return ac.stop, nil
}

// stop removes the listening socket from the loop and closes the connections whose first
// message was still being read.
func (ac *acceptor) stop() {
	l := ac.l
	l.mu.Lock()
	if ac.stopped {
		l.mu.Unlock()
		return
	}
	ac.stopped = true
	_ = ac.rc.Control(func(fd uintptr) {
		_, _, _ = syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(l.epfd), syscall.EPOLL_CTL_DEL, fd, 0, 0, 0)
	})
	if ac.idx < len(l.acceptors) && l.acceptors[ac.idx] == ac {
		l.acceptors[ac.idx] = nil
	}
	var pending []*lstream
	for _, s := range l.slots {
		if s != nil && s.acc == ac && s.mode.Load() == modeHello {
			l.removeLocked(s)
			pending = append(pending, s)
		}
	}
	if l.n--; l.n == 0 {
		l.scan = scanMax
	}
	l.mu.Unlock()
	for _, s := range pending {
		s.client.conn.(*Upstream).closeFD()
	}
}

// accept takes ac's queued connections. The listening socket is level-triggered: from a
// wake-up (all false) accept takes one connection and has the loop poll again, which
// reports the socket again while more are queued; that poll costs a tenth of the
// accept4 that fails with EAGAIN, which an edge-triggered socket needs to be drained.
// The scan's retry (all) takes them until accept4 would block: no event reports
// connections already queued. Either stops when accept4 fails for want of resources
// (retried at the next scan).
func (l *loop) accept(ac *acceptor, all bool) {
	ac.retry = false
	for {
		var sa syscall.RawSockaddrAny
		salen := uint32(syscall.SizeofSockaddrAny)
		var r uintptr
		var e syscall.Errno
		err := ac.rc.Control(func(fd uintptr) {
			r, _, e = syscall.RawSyscall6(syscall.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		})
		switch {
		case err != nil: // closed
			return
		case e == syscall.EINTR, e == syscall.ECONNABORTED:
			continue
		case e == syscall.EAGAIN:
			return
		case e != 0: // EMFILE, ENFILE, ENOBUFS, ENOMEM
			ac.retry = true
			return
		}
		fd := int(r)
		one := int32(1) // as net sets on every TCP socket
		_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, r, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0)
		u := &Upstream{fd: fd, remote: sockaddrTCP(&sa)}
		s := &lstream{acc: ac}
		s.client = lside{conn: u, rc: upstreamRaw{u}}
		s.mode.Store(modeHello)
		l.mu.Lock()
		if ac.stopped {
			l.mu.Unlock()
			u.closeFD()
			return
		}
		l.slotLocked(s)
		s.last = l.now
		s.client.token = s.token(0)
		errno := l.epollCtl(syscall.EPOLL_CTL_ADD, fd, &s.client)
		l.mu.Unlock()
		if errno != 0 {
			l.dropHello(s)
			continue
		}
		l.readFirst(s) // often there already
		if !all {
			l.repoll = true
			return
		}
	}
}

// readFirst reads s's first message until it is whole (then to Acceptor.Conn), the
// socket is drained (the next edge continues), or the connection ends (closed).
func (l *loop) readFirst(s *lstream) {
	u := s.client.conn.(*Upstream)
	for {
		var r uintptr
		var e syscall.Errno
		if u.Control(func(fd uintptr) {
			r, e = recv(int(fd), l.buf[:])
		}) != nil {
			return // closed by stop
		}
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return
		case e != 0, r == 0: // reset, or EOF before a whole message: no answer
			l.dropHello(s)
			return
		}
		n := int(r)
		s.first = append(s.first, l.buf[:n]...)
		// Drained (see step); with a FIN pending the next read is EOF. A stream that
		// Start continues takes this readiness on.
		drained := n < len(l.buf) && !s.client.rdhup
		s.client.readable = !drained
		done, err := s.acc.a.Complete(s.first)
		if done || err != nil {
			l.handOver(s, err)
			return
		}
		if drained {
			return
		}
	}
}

// handOver gives s's connection to Acceptor.Conn, still registered in the loop in its
// slot (modeHeld): Start continues it there, with no epoll_ctl; whatever else Conn does
// with it takes it out of the loop first (unhold).
func (l *loop) handOver(s *lstream, err error) {
	u := s.client.conn.(*Upstream)
	l.mu.Lock()
	if l.slots[s.slot] != s { // stop closed it
		l.mu.Unlock()
		return
	}
	s.mode.Store(modeHeld)
	u.s = s
	l.mu.Unlock()
	s.acc.a.Conn(u, s.first, err)
}

// unhold takes u, a connection given to Acceptor.Conn and still registered in its loop,
// out of the loop: before another loop, Go's poller or a close takes it.
func (u *Upstream) unhold() {
	s := u.s
	if s == nil || s.mode.Load() != modeHeld {
		return
	}
	l := s.l
	l.mu.Lock()
	if s.mode.Load() == modeHeld && l.slots[s.slot] == s {
		_ = u.Control(func(fd uintptr) {
			_, _, _ = syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(l.epfd), syscall.EPOLL_CTL_DEL, fd, 0, 0, 0)
		})
		l.removeLocked(s)
		s.mode.Store(modeCaller)
	}
	l.mu.Unlock()
}

// dropHello closes a connection whose first message did not come.
func (l *loop) dropHello(s *lstream) {
	l.release(s)
	s.client.conn.(*Upstream).closeFD() // leaves the epoll instance with it
}

// scanFirst closes the connections whose first message is late, and retries accepting
// where resources ran out. l.mu is not held.
func (l *loop) scanFirst() {
	var late []*lstream
	var retry []*acceptor
	l.mu.Lock()
	for _, s := range l.slots {
		if s != nil && s.acc != nil && s.mode.Load() == modeHello && s.acc.a.Timeout > 0 && l.now-s.last >= int64(s.acc.a.Timeout) {
			late = append(late, s)
		}
	}
	for _, ac := range l.acceptors {
		if ac != nil && ac.retry {
			retry = append(retry, ac)
		}
	}
	l.mu.Unlock()
	for _, s := range late {
		l.dropHello(s)
	}
	for _, ac := range retry {
		l.accept(ac, true)
	}
}

// sockaddrTCP is the address accept4 filled in.
func sockaddrTCP(sa *syscall.RawSockaddrAny) *net.TCPAddr {
	switch sa.Addr.Family {
	case syscall.AF_INET:
		a := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: int(p[0])<<8 | int(p[1])}
	case syscall.AF_INET6:
		a := (*syscall.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: int(p[0])<<8 | int(p[1])}
	}
	return &net.TCPAddr{}
}
