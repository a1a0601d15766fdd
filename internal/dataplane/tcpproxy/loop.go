//go:build linux

package tcpproxy

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The event-loop engine (design 0036): the streams of a process are copied by a few
// loops, each one goroutine and one epoll instance of its own holding both sockets of
// its streams, edge-triggered with EPOLLRDHUP. The loop's epoll fd is itself waited on
// by Go's poller (an epoll fd is readable while any of its sockets is ready), so a loop
// holds no thread while it waits; each wake-up handles every ready socket of one
// epoll_wait. Against a goroutine per direction on Go's poller this saves, per stream,
// the park/ready cycles of the second goroutine and of every wait, and the reads that
// return EAGAIN: the loop keeps each socket's readiness itself (a read shorter than the
// buffer drained the socket, and the next edge will say when there is more; EPOLLRDHUP
// says a FIN is pending, so the read of EOF is made without waiting for another edge).
//
// The sockets stay owned by their *net.TCPConn (registered with Go's poller as well,
// which sees the same edges and ignores them: no goroutine waits there). Every raw call
// is made inside the conn's RawConn.Control, so a Close racing with the loop can never
// let the loop touch a reused descriptor number; a conn closed behind the loop's back is
// found by the loop's scan (at most scanMax later) or at its next event. Callers that
// close a stream from outside (listener shutdown, maxConnectionDuration) use Close,
// which wakes the loop at once.
//
// Bulk data is not copied by the loop: once a read fills the buffer, the stream leaves
// the loop (its sockets are removed from the epoll instance) and continues on the
// goroutine path, which splices (design 0014); short-lived streams never get there.

const (
	// linger: a loop with no stream keeps its goroutine and epoll instance this long, so
	// that a steady trickle of short connections does not create one per connection,
	// and an idle process holds none.
	linger = 100 * time.Millisecond
	// scanMax: how often a loop with streams checks them for idle timeouts and for
	// connections closed without Close.
	scanMax = time.Second
	// maxEvents per epoll_wait.
	maxEvents = 64
	// epollET as a uint32 (syscall.EPOLLET is a negative int).
	epollET = 1 << 31
)

// loopSet is the loops of a Proxy: one per P (GOMAXPROCS at first use), at most four.
type loopSet struct {
	once  sync.Once
	loops []*loop
	next  atomic.Uint32
}

func (s *loopSet) pick() *loop {
	all := s.all()
	return all[int(s.next.Add(1))%len(all)]
}

func (s *loopSet) all() []*loop {
	s.once.Do(func() {
		n := min(runtime.GOMAXPROCS(0), 4)
		s.loops = make([]*loop, n)
		for i := range s.loops {
			s.loops[i] = &loop{}
		}
	})
	return s.loops
}

type loop struct {
	mu      sync.Mutex
	running bool // the goroutine and epoll instance exist
	epfd    int
	file    *os.File
	slots   []*lstream // by slot; nil: free
	free    []int32
	n       int // streams in slots
	gen     uint32
	scan    time.Duration // scan interval: scanMax, or less for a stream's idle timeout

	// Loop goroutine only.
	rc        syscall.RawConn
	waitFn    func(uintptr) bool
	events    [maxEvents]syscall.EpollEvent
	ready     []*lstream
	kickfd    int        // an eventfd in the epoll instance: wakes the loop for kicked
	kicked    []*lstream // streams to process though no socket of theirs had an event (l.mu)
	buf       [bufSize]byte
	now       int64 // unix nanoseconds of the current wake-up
	lastScan  int64
	deadline  time.Time
	lingering bool // the deadline is the end of the linger
	// repoll: this wake-up did something whose answer on loopback is already queued
	// when the call returns (a connect's handshake, a shutdown's FIN acknowledged):
	// epoll_wait once more before parking, so that it costs one call, not a wake-up.
	repoll bool

	acceptors []*acceptor // listening sockets by index (accept_linux.go); nil: stopped
	accepting []*acceptor // loop goroutine only: those readable in this wake-up
}

// lstream is one stream in a loop.
type lstream struct {
	l          *loop
	slot       int32
	gen        uint32
	client, up lside
	toUp, down ldir // client to upstream, upstream to client
	idle       time.Duration
	last       int64 // loop's now at the last byte moved
	ended      int   // directions that reached EOF
	p          *pipe
	cnt        Counter
	done       chan struct{}
	dialed     chan struct{} // DialLoop: the connect completed (or failed)
	mode       atomic.Int32  // modeCaller, modeLoop, modeGoroutines
	aborted    atomic.Bool
	queued     bool
	failed     bool
	idled      bool
	bulk       bool
	handoff    bool
	cfd        int
	outerFn    func(uintptr)
	innerFn    func(uintptr)
	noopFn     func(uintptr)
	// A connection accepted by the loop, while its first message is read (modeHello).
	acc   *acceptor
	first []byte
	// A stream carried by Start (start_linux.go): connect, copy and end in the loop.
	spec    *StreamSpec
	started int64 // loop's now at Start: the connect's deadline counts from here
}

const (
	modeCaller int32 = iota // before the loop copies, or after
	modeLoop
	modeGoroutines
	modeDial  // DialLoop waits for the connect (or Start's stream connects)
	modeHello // accepted by the loop, its first message not whole yet
	modeHeld  // accepted, its first message whole: given to Acceptor.Conn, still registered
)

// kickToken is the epoll data of a loop's eventfd.
const kickToken = ^uint64(0)

type lside struct {
	conn                      net.Conn // a *net.TCPConn or an *Upstream
	rc                        syscall.RawConn
	token                     uint64 // its epoll data
	readable, writable, rdhup bool
	out                       bool // registered for EPOLLOUT
}

type ldir struct {
	src, dst *lside
	pend     []byte // bytes read and not yet written
	pbuf     *[bufSize]byte
	chunk    int // bytes of the read pend belongs to, counted once written
	eof      bool
	done     bool // EOF propagated
	total    *atomic.Int64
	count    func(int64)
}

// Close closes c. When c is the client connection of a stream x copies on an event loop,
// the stream is ended through the loop (both its connections closed, as when a copy
// fails): closing the socket under the loop would remove it from the loop's epoll
// instance without an event. Use it for connections handed to x's Pipe.
func (x *Proxy) Close(c net.Conn) error {
	if v, ok := x.registry.Load(c); ok {
		v.(*lstream).abort()
		return nil
	}
	return c.Close()
}

// abort ends s from another goroutine.
func (s *lstream) abort() {
	s.aborted.Store(true)
	mode := s.mode.Load()
	if mode == modeDial && s.spec != nil { // Start's stream connecting: the loop ends it
		s.l.kick(s)
		return
	}
	if mode == modeLoop {
		// shutdown(2) both ways wakes the loop with EPOLLIN|EPOLLRDHUP|EPOLLHUP; the
		// loop sees aborted and ends the stream (its caller closes both conns).
		for _, sd := range []*lside{&s.client, &s.up} {
			_ = sd.rc.Control(func(fd uintptr) {
				_, _, _ = syscall.RawSyscall(syscall.SYS_SHUTDOWN, fd, syscall.SHUT_RDWR, 0)
			})
		}
		return
	}
	_ = s.client.conn.Close()
	if s.up.conn != nil {
		_ = s.up.conn.Close()
	}
}

// pipeLoop copies between client and upstream on a loop when both are *net.TCPConn:
// done is false when the stream is not for the loop or left it for bulk data (then p's
// state says what remains, upDone/downDone which directions ended).
func (x *Proxy) pipeLoop(p *pipe) (done, upDone, downDone bool) {
	if x.Engine != EngineLoop {
		return false, false, false
	}
	var crc syscall.RawConn
	switch cc := p.client.(type) {
	case *net.TCPConn:
		var err error
		if crc, err = cc.SyscallConn(); err != nil {
			return false, false, false
		}
	case *Upstream: // accepted by a loop (Accept)
		cc.unhold()
		crc = upstreamRaw{cc}
	default:
		return false, false, false
	}
	var s *lstream
	switch uc := p.upstream.(type) {
	case *net.TCPConn:
		urc, err := uc.SyscallConn()
		if err != nil {
			return false, false, false
		}
		s = &lstream{up: lside{conn: uc, rc: urc, writable: true}}
	case *Upstream: // DialLoop's: registered in its loop since the dial
		s = uc.s
		s.up.conn = uc
	default:
		return false, false, false
	}
	s.client = lside{conn: p.client, rc: crc, writable: true}
	s.idle, s.p, s.cnt, s.done = p.idle, p, p.cnt, make(chan struct{})
	s.toUp = ldir{src: &s.client, dst: &s.up, total: &p.received, count: p.cnt.Received}
	s.down = ldir{src: &s.up, dst: &s.client, total: &p.sent, count: p.cnt.Sent}
	s.outerFn, s.innerFn, s.noopFn = s.outer, s.inner, func(uintptr) {}
	x.registry.Store(p.client, s)
	defer x.registry.Delete(p.client)
	var added bool
	if s.l != nil {
		added = s.l.startStream(s)
	} else {
		added = x.loops.pick().add(s, false)
	}
	if !added {
		if s.aborted.Load() || s.up.conn != p.upstream || isUpstream(p.upstream) {
			return true, false, false // closed already
		}
		return false, false, false
	}
	if s.aborted.Load() { // Close came before the loop had the stream
		s.abort()
	}
	<-s.done
	if !s.handoff {
		return true, false, false
	}
	if !p.toNet() {
		return true, false, false
	}
	return false, s.toUp.done, s.down.done
}

// toNet turns p's raw sockets into *net.TCPConn (for splice, after a hand-off); false
// when one could not be.
func (p *pipe) toNet() bool {
	for _, c := range []*net.Conn{&p.client, &p.upstream} {
		if u, ok := (*c).(*Upstream); ok {
			tc, err := u.NetConn()
			if err != nil {
				return false
			}
			*c = tc
		}
	}
	return true
}

func isUpstream(c net.Conn) bool {
	_, ok := c.(*Upstream)
	return ok
}

// add starts s on l (and l when it is not running); false when s's sockets could not
// be added (closed already). dial: only s.up, for DialLoop (s stays in modeDial).
func (l *loop) add(s *lstream, dial bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running {
		if err := l.start(); err != nil {
			return false
		}
	}
	slot := l.slotLocked(s)
	s.last = time.Now().UnixNano()
	if s.idle > 0 {
		l.scan = min(l.scan, tick(s.idle))
	}
	if !dial {
		s.mode.Store(modeLoop)
	}
	s.client.token, s.up.token = s.token(0), s.token(1)
	okc := dial || l.ctl(syscall.EPOLL_CTL_ADD, &s.client)
	oku := okc && l.ctl(syscall.EPOLL_CTL_ADD, &s.up)
	if !oku {
		if okc && !dial {
			l.ctl(syscall.EPOLL_CTL_DEL, &s.client)
		}
		s.mode.Store(modeCaller)
		l.slots[slot] = nil
		l.free = append(l.free, slot)
		l.n--
		s.l = nil
		return false
	}
	return true
}

// slotLocked gives s a slot (and generation) of l. l.mu is held.
func (l *loop) slotLocked(s *lstream) int32 {
	var slot int32
	if n := len(l.free); n > 0 {
		slot = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		slot = int32(len(l.slots))
		l.slots = append(l.slots, nil)
	}
	l.gen++
	s.l, s.slot, s.gen = l, slot, l.gen
	l.slots[slot] = s
	l.n++
	return slot
}

// startStream starts a stream whose upstream was dialed by DialLoop (in l since the dial):
// false when the client could not be added (closed already; the slot is released).
func (l *loop) startStream(s *lstream) bool {
	l.mu.Lock()
	if l.slots[s.slot] != s {
		l.mu.Unlock()
		return false
	}
	if s.idle > 0 {
		l.scan = min(l.scan, tick(s.idle))
	}
	s.last = time.Now().UnixNano()
	s.client.token = s.token(0)
	s.mode.Store(modeLoop)
	// Events of the upstream before now were recorded, not handled: a server that
	// speaks first. The loop is told, as no new edge will come for them.
	pending := s.up.readable
	l.mu.Unlock()
	if !l.ctl(syscall.EPOLL_CTL_ADD, &s.client) {
		s.mode.Store(modeCaller)
		l.release(s)
		return false
	}
	if pending {
		l.kick(s)
	}
	return true
}

// kick has the loop process s.
func (l *loop) kick(s *lstream) {
	l.mu.Lock()
	l.kicked = append(l.kicked, s)
	fd := l.kickfd
	l.mu.Unlock()
	one := uint64(1)
	_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&one)), 8)
}

// closing is Close of a conn of s: true when s is a stream its loop carries (it copies,
// or Start's connects), which abort ends; else s leaves l's table (dialed and not
// streamed, held after its hello, or ended).
func (l *loop) closing(s *lstream) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := s.mode.Load(); m == modeLoop || m == modeDial && s.spec != nil {
		return true
	}
	if s.slot < int32(len(l.slots)) && l.slots[s.slot] == s {
		l.removeLocked(s)
	}
	return false
}

// release removes a stream that is not in modeLoop from l's table.
func (l *loop) release(s *lstream) {
	l.mu.Lock()
	if s.slot < int32(len(l.slots)) && l.slots[s.slot] == s {
		l.removeLocked(s)
	}
	l.mu.Unlock()
}

func (l *loop) removeLocked(s *lstream) {
	l.slots[s.slot] = nil
	l.free = append(l.free, s.slot)
	if l.n--; l.n == 0 {
		l.scan = scanMax
	}
}

// token is the epoll data of one of s's sockets: slot, generation (so that an event of
// a socket of an ended stream, still registered until its caller closes it, is not taken
// for the slot's next stream) and side.
func (s *lstream) token(side uint32) uint64 {
	return uint64(uint32(s.slot))<<32 | uint64(s.gen<<1|side)
}

// ctl adds or removes sd's socket; false when the conn is closed or epoll_ctl failed.
func (l *loop) ctl(op int, sd *lside) bool {
	var errno syscall.Errno
	err := sd.rc.Control(func(fd uintptr) { errno = l.epollCtl(op, int(fd), sd) })
	return err == nil && errno == 0
}

// epollCtl registers fd for sd's events: readability (with EPOLLRDHUP), edge-triggered,
// and writability only while a write waits (sd.out). A socket is writable when added,
// and EPOLLOUT in the mask would report that at once: a wake-up of the loop per socket
// for nothing.
func (l *loop) epollCtl(op, fd int, sd *lside) syscall.Errno {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET}
	if sd.out {
		ev.Events |= syscall.EPOLLOUT
	}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = sd.token
	_, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(l.epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	return errno
}

// blocked marks sd (fd) not writable and has the loop wait for its EPOLLOUT; false when
// the registration failed (the stream fails).
func (l *loop) blocked(sd *lside, fd int) bool {
	sd.writable = false
	if sd.out {
		return true
	}
	sd.out = true
	return l.epollCtl(syscall.EPOLL_CTL_MOD, fd, sd) == 0
}

// start creates l's epoll instance and goroutine. l.mu is held.
func (l *loop) start() error {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	if err := syscall.SetNonblock(fd, true); err != nil { // so that Go's poller waits for it
		_ = syscall.Close(fd)
		return err
	}
	kfd, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		_ = syscall.Close(fd)
		return e
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | epollET}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = kickToken
	if _, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(fd), syscall.EPOLL_CTL_ADD, kfd, uintptr(unsafe.Pointer(&ev)), 0, 0); e != 0 {
		_ = syscall.Close(fd)
		_ = syscall.Close(int(kfd))
		return e
	}
	f := os.NewFile(uintptr(fd), "tcpproxy-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		_ = syscall.Close(int(kfd))
		return err
	}
	l.epfd, l.kickfd, l.file, l.rc, l.running = fd, int(kfd), f, rc, true
	l.scan = scanMax
	l.lastScan = time.Now().UnixNano()
	l.deadline, l.lingering = time.Time{}, false
	if l.waitFn == nil {
		l.waitFn = l.wake
	}
	go l.run()
	return nil
}

// run waits for l's sockets through Go's poller until l has been empty for linger.
func (l *loop) run() {
	for {
		err := l.rc.Read(l.waitFn) // returns only on the deadline (or a closed file)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			l.stop()
			return
		}
		l.mu.Lock()
		if l.n == 0 && l.lingering && !time.Now().Before(l.deadline) {
			l.running = false
			_ = l.file.Close()
			_ = syscall.Close(l.kickfd)
			l.file, l.rc = nil, nil
			l.slots, l.free, l.kicked, l.acceptors = nil, nil, nil, nil
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		l.now = time.Now().UnixNano()
		l.scanStreams()
		l.arm()
	}
}

// stop ends every stream of a loop whose epoll file failed (not expected).
func (l *loop) stop() {
	var started []*lstream
	l.mu.Lock()
	for _, s := range l.slots {
		if s == nil {
			continue
		}
		s.failed = true
		if s.spec != nil && s.mode.Load() == modeDial {
			started = append(started, s)
		} else if l.finishLocked(s) && s.spec != nil {
			started = append(started, s)
		}
	}
	l.running = false
	_ = l.file.Close()
	_ = syscall.Close(l.kickfd)
	l.file, l.rc = nil, nil
	l.mu.Unlock()
	for _, s := range started {
		if s.mode.Load() == modeDial {
			l.dialFailed(s, ErrAborted)
		} else {
			l.complete(s)
		}
	}
}

// arm sets the file's read deadline: the next scan, or the end of the linger.
func (l *loop) arm() {
	l.mu.Lock()
	n, scan := l.n, l.scan
	l.mu.Unlock()
	var d time.Time
	switch {
	case n > 0:
		l.lingering = false
		d = time.Unix(0, l.lastScan).Add(scan)
	case l.lingering:
		return
	default:
		l.lingering = true
		d = time.Unix(0, l.now).Add(linger)
	}
	if !d.Equal(l.deadline) {
		l.deadline = d
		_ = l.file.SetReadDeadline(d)
	}
}

// wake is the RawConn.Read callback: handles every ready socket, then waits again.
func (l *loop) wake(epfd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, epfd, uintptr(unsafe.Pointer(&l.events[0])), maxEvents, 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 || r == 0 {
			break
		}
		n := int(r)
		l.now = time.Now().UnixNano()
		l.mu.Lock()
		scan := l.scan
		for i := range n {
			ev := &l.events[i]
			tok := *(*uint64)(unsafe.Pointer(&ev.Fd))
			if tok == kickToken {
				for _, s := range l.kicked {
					l.enqueue(s)
				}
				l.kicked = l.kicked[:0]
				continue
			}
			if tok&lnToken != 0 {
				if i := int(tok &^ lnToken); i < len(l.acceptors) {
					if ac := l.acceptors[i]; ac != nil && !ac.ready {
						ac.ready = true
						l.accepting = append(l.accepting, ac)
					}
				}
				continue
			}
			slot, gen, side := int(tok>>32), uint32(tok)>>1, tok&1
			if slot >= len(l.slots) {
				continue
			}
			s := l.slots[slot]
			if s == nil || s.gen&(1<<31-1) != gen {
				continue
			}
			sd := &s.client
			if side == 1 {
				sd = &s.up
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP|syscall.EPOLLRDHUP) != 0 {
				sd.readable = true
			}
			if ev.Events&syscall.EPOLLRDHUP != 0 {
				sd.rdhup = true
			}
			if ev.Events&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
				sd.writable = true
			}
			if s.dialed != nil && s.mode.Load() == modeDial {
				select {
				case s.dialed <- struct{}{}:
				default:
				}
				continue
			}
			l.enqueue(s)
		}
		l.mu.Unlock()
		for _, s := range l.dequeue() {
			l.process(s)
		}
		for _, ac := range l.accepting {
			ac.ready = false
			l.accept(ac, false)
		}
		l.accepting = l.accepting[:0]
		if l.now-l.lastScan >= int64(scan) {
			// Timeouts and the accept retry after EMFILE, here and not once the
			// polls end: a load that keeps this loop polling (n == maxEvents,
			// repoll) need never let them end. A wake-up with no event is the
			// deadline's, and run scans after it.
			l.scanStreams()
		}
		if n < maxEvents && !l.repoll {
			// Drained: the next event is a new edge for Go's poller. (A listener at
			// EMFILE stays ready, level-triggered, without one: the scan retries it.)
			break
		}
		l.repoll = false
	}
	l.arm()
	return false
}

// scanStreams ends streams idle for their timeout and those whose conn was closed.
func (l *loop) scanStreams() {
	l.lastScan = l.now
	var late []*lstream
	l.mu.Lock()
	for _, s := range l.slots {
		if s == nil {
			continue
		}
		switch s.mode.Load() {
		case modeLoop:
			l.enqueue(s)
		case modeDial:
			if s.spec != nil && s.spec.Timeout > 0 && l.now-s.started >= int64(s.spec.Timeout) {
				late = append(late, s)
			}
		}
	}
	l.mu.Unlock()
	for _, s := range late { // Start's connects past their timeout
		l.dialFailed(s, os.ErrDeadlineExceeded)
	}
	for _, s := range l.dequeue() {
		switch {
		case s.idle > 0 && l.now-s.last >= int64(s.idle):
			s.idled = true
			l.finish(s)
		case s.client.rc.Control(s.noopFn) != nil || s.up.rc.Control(s.noopFn) != nil:
			s.failed = true
			l.finish(s)
		}
	}
	l.scanFirst()
}

// enqueue adds s to the streams to handle in this wake-up, once.
func (l *loop) enqueue(s *lstream) {
	if !s.queued {
		s.queued = true
		l.ready = append(l.ready, s)
	}
}

// dequeue returns the streams enqueued and empties the queue (the slice is reused by
// the next wake-up: use it before then).
func (l *loop) dequeue() []*lstream {
	r := l.ready
	for _, s := range r {
		s.queued = false
	}
	l.ready = l.ready[:0]
	return r
}

// process copies what s's ready sockets allow.
func (l *loop) process(s *lstream) {
	switch s.mode.Load() {
	case modeLoop:
	case modeHello:
		l.readFirst(s)
		return
	case modeDial:
		if s.spec != nil {
			l.connecting(s)
		}
		return
	default:
		return
	}
	if s.client.rc.Control(s.outerFn) != nil {
		s.failed = true
	}
	if s.failed || s.aborted.Load() || s.ended == 2 || s.handoff {
		l.finish(s)
	}
}

// finish removes s from l and wakes its caller, which closes both conns (or continues
// on goroutines after a hand-off); a stream of Start's is completed here.
func (l *loop) finish(s *lstream) {
	l.mu.Lock()
	ended := l.finishLocked(s)
	l.mu.Unlock()
	if ended && s.spec != nil {
		l.complete(s)
	}
}

// finishLocked: true when s was a stream that ended now.
func (l *loop) finishLocked(s *lstream) bool {
	if l.slots[s.slot] != s {
		return false
	}
	l.removeLocked(s)
	if s.done == nil && s.spec == nil { // dialing, or dialed and not streamed
		return false
	}
	for _, d := range []*ldir{&s.toUp, &s.down} {
		if d.pbuf != nil {
			s.p.buffers.Put(d.pbuf)
			d.pbuf, d.pend = nil, nil
		}
	}
	if s.idled {
		s.p.idled.Store(true)
	}
	s.p.last.Store(s.last)
	s.p.ended.Store(int32(s.ended))
	if s.handoff {
		s.mode.Store(modeGoroutines)
	} else {
		s.mode.Store(modeCaller)
	}
	if s.done != nil {
		close(s.done)
	}
	return true
}
