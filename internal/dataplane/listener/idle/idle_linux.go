//go:build linux

package idle

import (
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Set is an epoll set of parked connections. The zero value is ready to use; it sets
// itself up on the first Park.
type Set struct {
	once   sync.Once
	mu     sync.Mutex
	closed bool
	epfd   int      // the epoll descriptor (-1: unavailable)
	ep     *os.File // epfd, registered with Go's poller
	parked map[int32]*Entry
}

// Entry is one connection's parking; embed it in the connection (it is reused across
// parkings). The zero value is not parked.
type Entry struct {
	fd     int32 // the socket's descriptor while on
	on     bool  // parked
	raw    syscall.RawConn
	timer  *time.Timer
	resume func(error)
}

func (s *Set) init() {
	s.once.Do(func() {
		s.epfd = -1
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			_ = syscall.Close(fd)
			return
		}
		s.epfd = fd
		s.ep = os.NewFile(uintptr(fd), "idle-connections")
		s.mu.Lock()
		s.parked = make(map[int32]*Entry)
		s.mu.Unlock()
		go s.run()
	})
}

// Park puts the socket raw into the set until it is readable or dl passes (zero: no
// deadline); resume then runs once, on a goroutine of its own, with nil (readable),
// os.ErrDeadlineExceeded, or net.ErrClosed (Evict, Close). False if it cannot park (no
// epoll, the set closed, the socket closed): resume will not run. Once Park returns true
// the connection belongs to whoever resumes it.
func (s *Set) Park(e *Entry, raw syscall.RawConn, dl time.Time, resume func(error)) bool {
	s.init()
	if s.epfd < 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || e.on {
		return false
	}
	e.raw, e.resume = raw, resume
	var stale func(error)
	_ = raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
		if syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev) != nil {
			return
		}
		// The kernel had no registration for this descriptor, so an entry still under its
		// number is one whose socket was closed without Evict (a caller's bug): end that
		// parking rather than lose it.
		if old := s.parked[int32(fd)]; old != nil {
			stale = s.dropLocked(old)
		}
		e.fd, e.on = int32(fd), true
		s.parked[int32(fd)] = e
	})
	if stale != nil {
		go stale(net.ErrClosed)
	}
	if !e.on {
		e.raw, e.resume = nil, nil
		return false
	}
	if !dl.IsZero() {
		e.timer = time.AfterFunc(time.Until(dl), func() { s.end(e, os.ErrDeadlineExceeded, false) })
	}
	return true
}

// Evict ends e's parking, if it is parked: its resume runs with net.ErrClosed. Call it
// before closing the socket.
func (s *Set) Evict(e *Entry) { s.end(e, net.ErrClosed, true) }

// end takes e out of the set and resumes it with err (on a new goroutine with async).
func (s *Set) end(e *Entry, err error, async bool) {
	s.mu.Lock()
	resume := s.takeLocked(e)
	s.mu.Unlock()
	switch {
	case resume == nil:
	case async:
		go resume(err)
	default:
		resume(err)
	}
}

// takeLocked removes e from the set and returns its resume function; nil if e is not
// parked (another party took it).
func (s *Set) takeLocked(e *Entry) func(error) {
	if !e.on || s.parked[e.fd] != e {
		return nil
	}
	_ = e.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	return s.dropLocked(e)
}

// dropLocked forgets e (its socket already out of the epoll set) and returns its resume.
func (s *Set) dropLocked(e *Entry) func(error) {
	delete(s.parked, e.fd)
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	resume := e.resume
	e.on, e.raw, e.resume = false, nil, nil
	return resume
}

// run waits on the set until it is closed, resuming connections as they become readable.
func (s *Set) run() {
	raw, err := s.ep.SyscallConn()
	if err != nil {
		return
	}
	events := make([]syscall.EpollEvent, 64)
	for {
		n := 0
		err := raw.Read(func(fd uintptr) bool {
			var werr error
			n, werr = syscall.EpollWait(int(fd), events, 0)
			return n > 0 || (werr != nil && werr != syscall.EINTR)
		})
		if err != nil {
			return // the set was closed
		}
		for _, ev := range events[:max(n, 0)] {
			s.mu.Lock()
			var resume func(error)
			if e := s.parked[ev.Fd]; e != nil {
				resume = s.takeLocked(e)
			}
			s.mu.Unlock()
			if resume != nil {
				go resume(nil)
			}
		}
	}
}

// Close ends the set: connections still in it are resumed with net.ErrClosed, later Parks
// report false.
func (s *Set) Close() {
	s.once.Do(func() { s.epfd = -1 }) // never set up: it will not be now
	s.mu.Lock()
	if s.closed || s.parked == nil {
		s.closed = true
		s.mu.Unlock()
		return
	}
	s.closed = true
	var left []func(error)
	for _, e := range s.parked {
		if r := s.takeLocked(e); r != nil {
			left = append(left, r)
		}
	}
	s.mu.Unlock()
	for _, r := range left {
		go r(net.ErrClosed)
	}
	_ = s.ep.Close()
}

// Len is how many connections are parked.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.parked)
}
