//go:build linux

package tcpproxy

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// sock reads and writes one TCP socket of a stream during the small-exchange phase with
// raw system calls, through syscall.RawConn (so the poller, deadlines and Close work as
// for net.Conn: a read that finds nothing waits for readability, an expired deadline or
// a closed connection ends it with the same errors).
//
// Why: net.Conn's Read and Write enter every syscall with the runtime's entersyscall,
// which wakes the sysmon thread when it sleeps (it does whenever the process went idle,
// which a proxy waiting on round trips does several times per connection); once awake
// it ticks every 20 µs and takes the P from a syscall it finds in progress, starting
// another thread. With the proxy on one core each of those is a context switch away
// from the goroutine copying bytes. A read or write of a non-blocking socket never
// blocks, so it needs none of that: the raw call returns EAGAIN instead, and the poller
// waits as before. Writes use send(2) with MSG_NOSIGNAL (no SIGPIPE on a reset peer).
type sock struct {
	rc syscall.RawConn
	// State of the call in progress, for the callbacks (bound once: a closure per call
	// would be an allocation per call).
	ioCall
	readFn, writeFn func(fd uintptr) bool
}

// ioCall is the state of one raw read or write in progress.
type ioCall struct {
	buf   []byte
	n     int
	errno syscall.Errno
}

// newSock returns the sock of c, or nil when c is not a *net.TCPConn (a *tls.Conn of a
// terminated stream), to be read and written as a net.Conn.
func newSock(c net.Conn) *sock {
	rc := rawConn(c)
	if rc == nil {
		return nil
	}
	return &sock{rc: rc} // readFn and writeFn are bound on first use: most socks only read or only write
}

// rawConn is the socket of c when it is a *net.TCPConn, else nil.
func rawConn(c net.Conn) syscall.RawConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// Socket returns c read and written with raw system calls when it is a *net.TCPConn
// (see sock), else c. For the ClientHello peek of a passthrough listener.
func Socket(c net.Conn) io.ReadWriter {
	if s := newSock(c); s != nil {
		return s
	}
	return c
}

// shutdownWrite half-closes a TCP socket (as (*net.TCPConn).CloseWrite) without
// entersyscall; false when c is not one.
func shutdownWrite(c net.Conn) bool {
	rc := rawConn(c)
	if rc == nil {
		return false
	}
	_ = rc.Control(func(fd uintptr) {
		_, _, _ = syscall.RawSyscall(syscall.SYS_SHUTDOWN, fd, syscall.SHUT_WR, 0)
	})
	return true
}

func (s *sock) Read(p []byte) (int, error) {
	n, err := s.call(p, false)
	if err == nil && n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, err
}

func (s *sock) Write(p []byte) (int, error) { return s.call(p, true) }

// call runs one read or write of p through the RawConn.
func (s *sock) call(p []byte, write bool) (int, error) {
	if write {
		if s.writeFn == nil {
			s.writeFn = s.ioCall.writeFD
		}
		return s.ioCall.run(p, "write", s.rc.Write, s.writeFn)
	}
	if s.readFn == nil {
		s.readFn = s.ioCall.readFD
	}
	return s.ioCall.run(p, "read", s.rc.Read, s.readFn)
}

// run does one read or write of p: via(fn) is the RawConn's Read or Write.
func (s *ioCall) run(p []byte, op string, via func(func(uintptr) bool) error, fn func(uintptr) bool) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.buf, s.n, s.errno = p, 0, 0
	err := via(fn)
	n, errno := s.n, s.errno
	s.buf = nil
	switch {
	case err != nil:
		return n, err
	case errno != 0:
		return n, os.NewSyscallError(op, errno)
	}
	return n, nil
}

func (s *ioCall) readFD(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for readability
		case 0:
			s.n = int(r)
		default:
			s.errno = e
		}
		return true
	}
}

func (s *ioCall) writeFD(fd uintptr) bool {
	for s.n < len(s.buf) {
		r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&s.buf[s.n])),
			uintptr(len(s.buf)-s.n), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for writability, then write the rest
		case 0:
			s.n += int(r)
		default:
			s.errno = e
			return true
		}
	}
	return true
}

// NetConn returns c read and written with raw system calls (see sock) when c is a
// *net.TCPConn, else nil: for the HTTP paths, whose round trips go idle between a request
// and its response as a passthrough stream does. Errors are net.Conn's: io.EOF, or a
// *net.OpError with Op "read"/"write" around the cause (a deadline, a closed connection,
// os.SyscallError), so callers that classify them see no difference. Everything but Read
// and Write is the *net.TCPConn's.
func NetConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc := rawConn(c)
	if rc == nil {
		return nil
	}
	nc := &netConn{TCPConn: tc, rc: rc}
	nc.readFn, nc.writeFn = nc.r.readFD, nc.w.writeFD
	return nc
}

// netConn keeps a call state for reads and one for writes: a connection is read and
// written concurrently (an HTTP/2 reader and writer).
type netConn struct {
	*net.TCPConn
	rc              syscall.RawConn
	r, w            ioCall
	readFn, writeFn func(fd uintptr) bool
}

func (c *netConn) Read(p []byte) (int, error) {
	n, err := c.r.run(p, "read", c.rc.Read, c.readFn)
	if err == nil && n == 0 && len(p) > 0 {
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

func (c *netConn) Write(p []byte) (int, error) {
	n, err := c.w.run(p, "write", c.rc.Write, c.writeFn)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// opError wraps err as net.Conn would: RawConn reports its own failures (deadline,
// closed) as *net.OpError "raw-read"/"raw-write"; those are renamed, the rest wrapped.
func (c *netConn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
