//go:build linux

package tcpproxy

import (
	"cmp"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Upstream connections of loop streams are dialed with raw system calls (design 0036):
// socket (non-blocking, close-on-exec), TCP_NODELAY, connect (EINPROGRESS), and the
// connect's completion seen by the loop's epoll instance (EPOLLOUT, then SO_ERROR). net's
// Dial makes the same calls plus getsockname, getpeername and the registration and
// deregistration with Go's poller, and makes connect and close with entersyscall, which
// wakes the runtime's sysmon thread from its sleep: each a cost per connection. The
// socket never meets Go's poller unless the stream moves bulk data (then it becomes a
// *net.TCPConn through net.FileConn, for splice).

// Upstream is a raw socket of a loop stream: a connection dialed by DialLoop, or a
// client connection accepted by a loop (Accept). Only what a stream needs works: Write
// (the PROXY header and the prefix, before the stream starts), Close, the addresses and
// the RawConn of its socket; Read and deadlines are not for use.
type Upstream struct {
	mu     sync.Mutex // guards fd against Close while a raw call uses it
	fd     int        // -1 once closed
	s      *lstream   // DialLoop's: its stream state, registered in its loop since the dial
	remote *net.TCPAddr
	// moved is the *net.TCPConn the socket became (NetConn): Close closes it.
	moved net.Conn
}

var errUpstreamUse = errors.New("tcpproxy: Upstream is read only by its stream")

// DialLoop connects to addr (an IP address and port) within timeout (0: the operating
// system's connect timeout) for a stream from client, and writes header (a PROXY
// header) once connected. ka is the socket's TCP keep-alive as net.Dialer's
// KeepAliveConfig means it (Enable false: none). ok is false when the raw dial does not
// apply (the engine is not the loop, client is not a *net.TCPConn, addr is not IP:port):
// dial with Dial then. Errors are *net.OpError with Op "dial", as Dial's.
func (x *Proxy) DialLoop(client net.Conn, addr string, timeout time.Duration, header []byte, ka net.KeepAliveConfig) (c net.Conn, ok bool, err error) {
	if x.Engine != EngineLoop {
		return nil, false, nil
	}
	switch client.(type) {
	case *net.TCPConn, *Upstream:
	default:
		return nil, false, nil
	}
	ap, perr := netip.ParseAddrPort(addr)
	if perr != nil {
		return nil, false, nil
	}
	u, err := x.dialRaw(ap, timeout, header, ka)
	if err != nil {
		return nil, true, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: err}
	}
	return u, true, nil
}

// connectRaw opens a socket and starts its non-blocking connect to ap.
func connectRaw(ap netip.AddrPort, ka net.KeepAliveConfig) (*Upstream, error) {
	family := syscall.AF_INET6
	if ap.Addr().Unmap().Is4() {
		family = syscall.AF_INET
	}
	fd, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if e != 0 {
		return nil, os.NewSyscallError("socket", e)
	}
	u := &Upstream{fd: int(fd), remote: net.TCPAddrFromAddrPort(ap)}
	// Nagle would hold a handshake's second record until the first is acknowledged (as
	// net sets it on every TCP socket).
	one := int32(1)
	_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0)
	if ka.Enable {
		if e := setKeepalive(int(fd), ka); e != 0 {
			u.closeFD()
			return nil, os.NewSyscallError("setsockopt", e)
		}
	}
	if e := rawConnect(int(fd), ap); e != 0 && e != syscall.EINPROGRESS {
		u.closeFD()
		return nil, os.NewSyscallError("connect", e)
	}
	return u, nil
}

// soError is the outcome of fd's connect (SO_ERROR), as connect's error.
func soError(fd int) error {
	var soerr int32
	n := uint32(4)
	_, _, e := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, syscall.SO_ERROR, uintptr(unsafe.Pointer(&soerr)), uintptr(unsafe.Pointer(&n)), 0)
	if e == 0 && soerr != 0 {
		e = syscall.Errno(soerr)
	}
	if e != 0 {
		return os.NewSyscallError("connect", e)
	}
	return nil
}

func (x *Proxy) dialRaw(ap netip.AddrPort, timeout time.Duration, header []byte, ka net.KeepAliveConfig) (*Upstream, error) {
	u, err := connectRaw(ap, ka)
	if err != nil {
		return nil, err
	}
	s := &lstream{up: lside{rc: upstreamRaw{u}, out: true}, dialed: make(chan struct{}, 1)}
	s.mode.Store(modeDial)
	u.s = s
	l := x.loops.pick()
	if !l.add(s, true) {
		u.closeFD()
		return nil, errors.New("tcpproxy: event loop unavailable")
	}
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-s.dialed:
	case <-timer:
		_ = u.Close()
		return nil, os.ErrDeadlineExceeded
	}
	if err := soError(u.fd); err != nil {
		_ = u.Close()
		return nil, err
	}
	if len(header) > 0 {
		if _, err := u.Write(header); err != nil {
			_ = u.Close()
			return nil, err
		}
	}
	return u, nil
}

// setKeepalive turns TCP keep-alive on for fd with ka's parameters, read as net's
// dialer reads them: 0 for Go's default (15 s idle, 15 s interval, 9 probes), negative
// to leave the operating system's, durations rounded up to whole seconds.
func setKeepalive(fd int, ka net.KeepAliveConfig) syscall.Errno {
	secs := func(d time.Duration) int {
		if d < 0 {
			return -1
		}
		return int((d + time.Second - 1) / time.Second)
	}
	opts := [...]struct{ level, name, v int }{
		{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, secs(cmp.Or(ka.Idle, 15*time.Second))},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, secs(cmp.Or(ka.Interval, 15*time.Second))},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, cmp.Or(ka.Count, 9)},
	}
	for _, o := range opts {
		if o.v < 0 {
			continue
		}
		if e := setsockoptInt(fd, o.level, o.name, o.v); e != 0 {
			return e
		}
	}
	return 0
}

func setsockoptInt(fd, level, name, v int) syscall.Errno {
	n := int32(v)
	_, _, e := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&n)), 4, 0)
	return e
}

func getsockoptInt(fd, level, name int) (int, syscall.Errno) {
	var n int32
	l := uint32(4)
	_, _, e := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&l)), 0)
	return int(n), e
}

// keepaliveOpts returns the socket options of TCP keep-alive (level, name), kept across
// net.FileConn.
func keepaliveOpts() [4][2]int {
	return [4][2]int{
		{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT},
	}
}

// rawConnect starts a non-blocking connect of fd to ap (AF_INET or AF_INET6 as ap).
func rawConnect(fd int, ap netip.AddrPort) syscall.Errno {
	var buf [syscall.SizeofSockaddrInet6]byte // sockaddr_in or sockaddr_in6
	n := uintptr(syscall.SizeofSockaddrInet6)
	if a := ap.Addr().Unmap(); a.Is4() {
		raw := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&buf[0]))
		raw.Family, raw.Addr, n = syscall.AF_INET, a.As4(), syscall.SizeofSockaddrInet4
	} else {
		raw := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&buf[0]))
		raw.Family, raw.Addr = syscall.AF_INET6, a.As16()
	}
	buf[2], buf[3] = byte(ap.Port()>>8), byte(ap.Port()) // sin_port/sin6_port, network order
	_, _, e := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), n)
	return e
}

// SyscallConn returns the socket (its Read and Write, which would wait, are not for use).
func (u *Upstream) SyscallConn() (syscall.RawConn, error) { return upstreamRaw{u}, nil }

// Control runs f with the socket (syscall.RawConn), unless it is closed.
func (u *Upstream) Control(f func(fd uintptr)) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fd < 0 {
		return net.ErrClosed
	}
	f(uintptr(u.fd))
	return nil
}

// Read of syscall.RawConn: not for use.
func (u *Upstream) Read(b []byte) (int, error) { return 0, errUpstreamUse }

// rawConn adapts Upstream to syscall.RawConn (whose Read and Write wait: not for use).
type upstreamRaw struct{ *Upstream }

func (r upstreamRaw) Read(func(uintptr) bool) error  { return errUpstreamUse }
func (r upstreamRaw) Write(func(uintptr) bool) error { return errUpstreamUse }

// Write writes b before the stream starts (it must fit the socket's send buffer: a
// PROXY header, a ClientHello).
func (u *Upstream) Write(b []byte) (int, error) {
	var n int
	var e syscall.Errno
	err := u.Control(func(fd uintptr) {
		for n < len(b) && e == 0 {
			var m int
			m, e = send(int(fd), b[n:])
			n += m
		}
	})
	switch {
	case err != nil:
		return n, err
	case e != 0:
		return n, os.NewSyscallError("write", e)
	}
	return n, nil
}

// Close closes the connection; when its stream runs in a loop, through the loop.
func (u *Upstream) Close() error {
	u.mu.Lock()
	moved := u.moved
	u.mu.Unlock()
	if moved != nil {
		return moved.Close()
	}
	if s := u.s; s != nil && s.l != nil && s.l.closing(s) {
		s.abort() // a stream in its loop (Start's too, connecting): the loop ends it
		return nil
	}
	return u.closeSocket()
}

// closeSocket closes the descriptor, or what NetConn (which may have run since) made of
// it, deciding under u.mu, which NetConn holds for the whole conversion.
func (u *Upstream) closeSocket() error {
	u.mu.Lock()
	if u.fd >= 0 {
		_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(u.fd), 0, 0)
		u.fd = -1
		u.mu.Unlock()
		return nil
	}
	moved := u.moved
	u.mu.Unlock()
	if moved != nil {
		return moved.Close()
	}
	return net.ErrClosed
}

// closeFD closes the socket once (it leaves the epoll instance with it).
func (u *Upstream) closeFD() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fd < 0 {
		return false
	}
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(u.fd), 0, 0)
	u.fd = -1
	return true
}

// LocalAddr is the socket's (a getsockname call: only when asked).
func (u *Upstream) LocalAddr() net.Addr {
	var sa net.Addr = &net.TCPAddr{}
	_ = u.Control(func(fd uintptr) {
		if s, err := syscall.Getsockname(int(fd)); err == nil {
			switch a := s.(type) {
			case *syscall.SockaddrInet4:
				sa = &net.TCPAddr{IP: a.Addr[:], Port: a.Port}
			case *syscall.SockaddrInet6:
				sa = &net.TCPAddr{IP: a.Addr[:], Port: a.Port}
			}
		}
	})
	return sa
}

// RemoteAddr is the address dialed.
func (u *Upstream) RemoteAddr() net.Addr { return u.remote }

// SetDeadline and the others: the loop keeps the stream's idle timeout; no-ops.
func (u *Upstream) SetDeadline(time.Time) error      { return nil }
func (u *Upstream) SetReadDeadline(time.Time) error  { return nil }
func (u *Upstream) SetWriteDeadline(time.Time) error { return nil }

// NetConn turns u into a *net.TCPConn (for the goroutine path after a hand-off, or a
// connection a loop accepted that is not a stream): the socket is duplicated into net's
// poller and u's descriptor closed; u's Close closes the *net.TCPConn from then on.
func (u *Upstream) NetConn() (*net.TCPConn, error) {
	u.unhold() // a dup would stay in the loop's epoll instance
	// u.mu is held until the descriptor is closed and moved set: a Close meanwhile would
	// close the number under the dup (which then outlives the Close) and NetConn's own
	// close would close it twice, maybe another socket's by then.
	u.mu.Lock()
	defer u.mu.Unlock()
	fd := u.fd
	if fd < 0 {
		return nil, net.ErrClosed
	}
	// net.FileConn turns keep-alive on (15 s) as for an accepted socket; the socket
	// keeps what it was dialed with (none unless the cluster asks).
	opts := keepaliveOpts()
	var saved [len(opts)]int
	for i, o := range opts {
		saved[i], _ = getsockoptInt(fd, o[0], o[1])
	}
	f := os.NewFile(uintptr(fd), "upstream")
	c, err := net.FileConn(f) // dups
	_ = f.Close()             // closes fd
	u.fd = -1
	u.moved = c // nil on error
	if err != nil {
		return nil, err
	}
	if rc, err := c.(syscall.Conn).SyscallConn(); err == nil {
		_ = rc.Control(func(nfd uintptr) {
			for i := len(opts) - 1; i >= 0; i-- { // SO_KEEPALIVE last
				_ = setsockoptInt(int(nfd), opts[i][0], opts[i][1], saved[i])
			}
		})
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		_ = c.Close()
		return nil, errors.New("tcpproxy: upstream is not TCP")
	}
	return tc, nil
}
