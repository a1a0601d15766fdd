//go:build linux

package tcpproxy

import (
	"syscall"
	"unsafe"
)

// The copy of a loop stream (loop.go): what one wake-up moves between its sockets.

func (s *lstream) outer(cfd uintptr) {
	s.cfd = int(cfd)
	if s.up.rc.Control(s.innerFn) != nil {
		s.failed = true
	}
}

func (s *lstream) inner(ufd uintptr) {
	l := s.l
	cfd, uf := s.cfd, int(ufd)
	s.step(&s.toUp, cfd, uf, l)
	if !s.failed {
		s.step(&s.down, uf, cfd, l)
	}
	if s.bulk && !s.failed && s.ended < 2 && len(s.toUp.pend) == 0 && len(s.down.pend) == 0 && !s.aborted.Load() {
		// Bulk data: continue on goroutines, which splice. The sockets leave the epoll
		// instance, so that their events stop waking the loop.
		for _, fd := range []int{cfd, uf} {
			_, _, _ = syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(l.epfd), syscall.EPOLL_CTL_DEL, uintptr(fd), 0, 0, 0)
		}
		s.handoff = true
	}
}

// step moves d's bytes from src (fd sfd) to dst (fd dfd) until one of them would block,
// src ends or a call fails.
func (s *lstream) step(d *ldir, sfd, dfd int, l *loop) {
	for !d.done {
		if len(d.pend) > 0 {
			if !d.dst.writable {
				return
			}
			n, e := send(dfd, d.pend)
			if e == syscall.EAGAIN {
				s.failed = !l.blocked(d.dst, dfd)
				return
			}
			if e != 0 {
				s.failed = true
				return
			}
			d.pend = d.pend[n:]
			if len(d.pend) > 0 { // a short write: the send buffer is full
				s.failed = !l.blocked(d.dst, dfd)
				return
			}
			s.moved(d, d.chunk)
			s.p.buffers.Put(d.pbuf)
			d.pbuf, d.pend = nil, nil
		}
		if d.eof {
			// The direction that ends second skips the half-close: both conns are
			// closed at once then (as the goroutine path, pipe.after).
			d.done = true
			s.ended++
			if s.ended == 1 {
				_, _, _ = syscall.RawSyscall(syscall.SYS_SHUTDOWN, uintptr(dfd), syscall.SHUT_WR, 0)
				l.repoll = true
			}
			return
		}
		if !d.src.readable {
			return
		}
		r, e := recv(sfd, l.buf[:])
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			d.src.readable = false
			return
		default:
			s.failed = true
			return
		}
		n := int(r)
		if n == 0 {
			d.eof = true
			continue
		}
		if n < len(l.buf) && !d.src.rdhup {
			// Drained: TCP returns less than asked only when nothing more is queued, and
			// whatever arrives next is a new edge. With a FIN pending (EPOLLRDHUP) the
			// next read returns EOF at once.
			d.src.readable = false
		}
		if n == len(l.buf) {
			s.bulk = true
		}
		w := 0
		if d.dst.writable {
			m, e := send(dfd, l.buf[:n])
			switch e {
			case 0:
				w = m
			case syscall.EAGAIN:
			default:
				s.failed = true
				return
			}
		}
		if w == n {
			s.moved(d, n)
			continue
		}
		if !l.blocked(d.dst, dfd) {
			s.failed = true
			return
		}
		d.pbuf, _ = s.p.buffers.Get().(*[bufSize]byte)
		if d.pbuf == nil {
			d.pbuf = new([bufSize]byte)
		}
		d.pend = d.pbuf[:copy(d.pbuf[:], l.buf[w:n])]
		d.chunk = n
		return
	}
}

func (s *lstream) moved(d *ldir, n int) {
	s.last = s.l.now
	d.total.Add(int64(n))
	d.count(int64(n))
}

// recv reads from the socket fd into b (recvfrom: a socket's read without read(2)'s
// file layer), once; EINTR is the caller's.
func recv(fd int, b []byte) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	return r, e
}

// send writes b to fd without blocking: bytes written, or the errno.
func send(fd int, b []byte) (int, syscall.Errno) {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MSG_NOSIGNAL, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		return int(r), e
	}
}
