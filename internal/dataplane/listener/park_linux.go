//go:build linux

package listener

import (
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// parker holds long-idle keep-alive connections without a goroutine each: their sockets
// sit in an epoll set of the listener's own (level-triggered, one-shot), and the one
// goroutine that waits on that set — itself parked in Go's poller, on the epoll
// descriptor — starts a fresh goroutine for a connection when its socket becomes readable
// (a request, EOF or an error). The idle timeout is a timer. A goroutine waiting per
// connection would cost its stack (2–4 KiB); a parked connection costs a timer and a map
// entry.
//
// Every party that ends a parked connection — the wake-up, the timer, Shutdown and Close
// — first takes it out of the set under mu, so exactly one of them resumes it, and its
// socket leaves the epoll set while its descriptor is still open.
type parker struct {
	once   sync.Once
	mu     sync.Mutex
	closed bool
	epfd   int              // the epoll descriptor (-1: unavailable)
	ep     *os.File         // epfd, registered with Go's poller
	parked map[int32]*hconn // by descriptor: a parked connection's descriptor is open
}

func (p *parker) init() {
	p.once.Do(func() {
		p.epfd = -1
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			_ = syscall.Close(fd)
			return
		}
		p.epfd = fd
		p.ep = os.NewFile(uintptr(fd), "idle-connections")
		p.mu.Lock()
		p.parked = make(map[int32]*hconn)
		p.mu.Unlock()
		go p.run()
	})
}

// park moves hc — idle, with no input buffered in crypto/tls or a bufio.Reader — into the
// set until its socket is readable or dl passes (zero: no deadline). False if it cannot
// (no epoll, parker closed, socket closed): the caller waits on a goroutine instead. Once
// it returns true, hc belongs to whoever resumes it.
func (p *parker) park(hc *hconn, fresh bool, dl time.Time) bool {
	p.init()
	if p.epfd < 0 || hc.wait.conn(hc.c) != nil {
		return false
	}
	p.mu.Lock()
	hc.park = parkState{fd: -1, fresh: fresh, dl: dl}
	if p.closed {
		p.mu.Unlock()
		return false
	}
	_ = hc.wait.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
		if syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev) == nil {
			hc.park.fd = int32(fd)
			p.parked[int32(fd)] = hc
		}
	})
	if hc.park.fd < 0 {
		p.mu.Unlock()
		return false
	}
	if !dl.IsZero() {
		hc.park.timer = time.AfterFunc(time.Until(dl), func() {
			if p.take(hc) {
				hc.resumeParked(os.ErrDeadlineExceeded)
			}
		})
	}
	p.mu.Unlock()
	// Shutdown or Close may have marked hc closed before it was in the set, and so not
	// found it there: then it is ours to end.
	if hc.state.Load() == stateClosed {
		p.evict(hc)
	}
	return true
}

// take removes hc from the set; false if it is not there (another party took it).
func (p *parker) take(hc *hconn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeLocked(hc)
}

func (p *parker) takeLocked(hc *hconn) bool {
	fd := hc.park.fd
	if fd < 0 || p.parked[fd] != hc {
		return false
	}
	delete(p.parked, fd)
	hc.park.fd = -1
	_ = hc.wait.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	if hc.park.timer != nil {
		hc.park.timer.Stop()
		hc.park.timer = nil
	}
	return true
}

// evict ends hc's parking on behalf of Shutdown or Close, which call it before they close
// its socket: its goroutine finds it closed and untracks it. A no-op unless hc is parked.
func (p *parker) evict(hc *hconn) {
	if p.take(hc) {
		go hc.resumeParked(net.ErrClosed)
	}
}

// run waits on the set until it is closed, resuming connections as they become readable.
func (p *parker) run() {
	raw, err := p.ep.SyscallConn()
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
			p.mu.Lock()
			hc := p.parked[ev.Fd]
			ok := hc != nil && p.takeLocked(hc)
			p.mu.Unlock()
			if ok {
				go hc.resumeParked(nil)
			}
		}
	}
}

// close ends the set once no connection is served any more; any still in it are resumed
// (they find themselves closed, or the listener closing).
func (p *parker) close() {
	p.once.Do(func() { p.epfd = -1 }) // never set up: it will not be now
	p.mu.Lock()
	if p.closed || p.parked == nil {
		p.closed = true
		p.mu.Unlock()
		return
	}
	p.closed = true
	left := make([]*hconn, 0, len(p.parked))
	for _, hc := range p.parked {
		if p.takeLocked(hc) {
			left = append(left, hc)
		}
	}
	p.mu.Unlock()
	for _, hc := range left {
		go hc.resumeParked(net.ErrClosed)
	}
	_ = p.ep.Close()
}

// parkedCount is how many connections are parked (tests).
func (p *parker) parkedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}
