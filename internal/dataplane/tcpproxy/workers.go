package tcpproxy

import "sync"

// Workers runs functions on reused goroutines. A new goroutine starts with a 2 KiB
// stack, and a connection's goroutine grows it two or three times before its first byte
// is copied (a TLS handshake or an upstream dial is deep): each growth copies the stack
// and walks its frames, ~6% of the CPU of a passthrough connection (design 0033). A
// goroutine that finished a function keeps its grown stack while it waits for the next
// one; the runtime frees grown stacks of exited goroutines, so a plain go statement pays
// the growth again every time.
//
// A function reports whether its goroutine may wait for the next one: false makes it
// exit (an HTTP connection that went idle gives up its goroutine on purpose, design
// 0007). At most maxIdle goroutines wait (the most recently used first, its stack warm);
// others exit when their function returns. Close makes the waiting ones exit and every
// later one exit after its function. The zero value is ready.
type Workers struct {
	mu     sync.Mutex
	idle   []chan func() bool
	closed bool
}

// maxIdle bounds the goroutines kept waiting: enough for the connections a port sees
// finishing at once at a few thousand per second, and little memory (a waiting stack is
// a few KiB to a few tens of KiB, shrunk by the garbage collector while unused).
const maxIdle = 64

// Go runs f on a waiting goroutine, or on a new one.
func (w *Workers) Go(f func() (keep bool)) {
	w.mu.Lock()
	if n := len(w.idle); n > 0 {
		ch := w.idle[n-1]
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		ch <- f // buffered: never blocks
		return
	}
	w.mu.Unlock()
	go w.run(f)
}

func (w *Workers) run(f func() bool) {
	var ch chan func() bool
	for f != nil {
		if !f() {
			return
		}
		f = nil // not kept alive while waiting
		if ch == nil {
			ch = make(chan func() bool, 1)
		}
		w.mu.Lock()
		if w.closed || len(w.idle) >= maxIdle {
			w.mu.Unlock()
			return
		}
		w.idle = append(w.idle, ch)
		w.mu.Unlock()
		f = <-ch // nil: closed
	}
}

// Close ends the waiting goroutines; functions running finish, and their goroutines
// exit then.
func (w *Workers) Close() {
	w.mu.Lock()
	w.closed = true
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	for _, ch := range idle {
		ch <- nil
	}
}
