//go:build unix

package upstream

import (
	"errors"
	"syscall"
	"unsafe"
)

// idleProbe looks at an idle connection without waiting: one non-blocking MSG_PEEK. It
// is made once per connection so that a look allocates nothing.
type idleProbe struct {
	rc   syscall.RawConn
	buf  [64]byte
	size int // bytes to peek: 1, or more for the log
	n    int
	err  error
	fn   func(fd uintptr) bool
}

func newIdleProbe(rc syscall.RawConn) *idleProbe {
	p := &idleProbe{rc: rc}
	p.fn = func(fd uintptr) bool {
		// A raw call: MSG_DONTWAIT never blocks, and a raw call does not wake the
		// runtime's sysmon thread as syscall.Recvfrom's entersyscall does (design 0025).
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), uintptr(p.size),
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		p.n, p.err = int(r), nil
		if e != 0 {
			p.n, p.err = -1, e
		}
		return true // never wait
	}
	return p
}

// check reports what the connection holds: nothing (clean), bytes (an unsolicited
// response, the late body of a HEAD, 204 or 304, more body than Content-Length: first
// holds their start, for the log), or end of file or an error (gone).
func (p *idleProbe) check() (st idleCheck, first []byte) {
	if p == nil {
		return idleClean, nil
	}
	p.size = 1
	if p.rc.Read(p.fn) != nil {
		return idleGone, nil
	}
	switch {
	case errors.Is(p.err, syscall.EAGAIN) || errors.Is(p.err, syscall.EWOULDBLOCK):
		return idleClean, nil
	case p.err == nil && p.n > 0:
		p.size = len(p.buf) // rare: peek more of it for the log
		_ = p.rc.Read(p.fn)
		return idleData, p.buf[:max(p.n, 0)]
	}
	return idleGone, nil // end of file (n == 0) or an error: closed or reset
}
