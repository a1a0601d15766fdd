package h2

import (
	"sync"
	"time"
)

// workerIdle is how long a handler goroutine waits for another stream before exiting.
const workerIdle = 2 * time.Second

// Handler goroutines. A goroutine that has run a handler waits a while for the next stream
// (of any connection) instead of exiting: its stack, grown by the handler's deep path
// (routing, proxying), is reused rather than grown again from scratch by a fresh goroutine
// (stack growth was ~9% of the CPU per request in the h2 profile).
//
// Idle workers wait on a channel of their own, on a stack (the most recently idle on top:
// its stack is the warmest). Handing a stream over is a push under a mutex and a send on
// a buffered channel to a worker blocked in a plain receive: no select, and no timer
// touched per request. Workers idle for longer than workerIdle are sent away by one timer
// for the whole pool, armed only while some worker is idle (design 0028).

// worker is an idle handler goroutine's mailbox: a stream to run, or nil to exit.
type worker struct {
	next  chan *stream
	since int64 // Server.clock when it went idle
}

// workers is the pool of idle handler goroutines.
type workers struct {
	mu     sync.Mutex
	idle   []*worker // a stack: idle[len-1] went idle last
	reaper *time.Timer
	armed  bool // reaper is set
	closed bool
}

// startHandler runs st's handler on an idle worker goroutine, or a new one.
func (s *Server) startHandler(st *stream) {
	p := &s.pool
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.next <- st // buffered, empty: does not block
		return
	}
	p.mu.Unlock()
	go s.work(st)
}

func (s *Server) work(st *stream) {
	w := &worker{next: make(chan *stream, 1)}
	for st != nil {
		st.c.runHandler(st)
		if !s.parkWorker(w) {
			return
		}
		st = <-w.next
	}
}

// parkWorker puts w on the idle stack; false when the server is closing (w exits).
func (s *Server) parkWorker(w *worker) bool {
	p := &s.pool
	w.since = s.clock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.idle = append(p.idle, w)
	if !p.armed {
		p.armed = true
		if p.reaper == nil {
			p.reaper = time.AfterFunc(workerIdle, s.reapWorkers)
		} else {
			p.reaper.Reset(workerIdle)
		}
	}
	return true
}

// reapWorkers sends away the workers idle for workerIdle or longer (the bottom of the
// stack) and re-arms for the oldest that remains.
func (s *Server) reapWorkers() {
	p := &s.pool
	now := s.clock()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && now-p.idle[n].since >= int64(workerIdle) {
		p.idle[n].next <- nil
		n++
	}
	if n > 0 {
		rest := copy(p.idle, p.idle[n:])
		clear(p.idle[rest:])
		p.idle = p.idle[:rest]
	}
	p.armed = len(p.idle) > 0 && !p.closed
	if p.armed {
		p.reaper.Reset(time.Duration(p.idle[0].since + int64(workerIdle) - now))
	}
}

// closeWorkers sends every idle worker away; workers still running exit when done.
func (s *Server) closeWorkers() {
	p := &s.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for i, w := range p.idle {
		w.next <- nil
		p.idle[i] = nil
	}
	p.idle = nil
	if p.reaper != nil {
		p.reaper.Stop()
	}
	p.armed = false
}
