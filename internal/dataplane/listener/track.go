package listener

import (
	"context"
	"sync"
)

// Connection states. A connection is new while it handshakes, active while a request is
// read or served, idle while it waits for the next request.
const (
	stateNew int32 = iota
	stateActive
	stateIdle
	stateClosed // closed by Shutdown or Close while idle, or hijacked
)

// tracker is the set of HTTP/1.1 (and handshaking) connections of a listener, so that
// Shutdown can close the idle ones and wait for the others, and Close can close them all.
// HTTP/2 connections belong to the http.Server once handed over.
type tracker struct {
	mu      sync.Mutex
	conns   map[*hconn]struct{}
	closing bool          // Shutdown or Close began: no additions
	empty   chan struct{} // closed when conns is empty while closing
	first   chan struct{} // (1 buffered) signalled when conns stops being empty
}

func (t *tracker) init() {
	t.conns = make(map[*hconn]struct{})
	t.empty = make(chan struct{})
	t.first = make(chan struct{}, 1)
}

// none reports whether no connection is tracked.
func (t *tracker) none() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns) == 0
}

// add tracks hc; false once closing.
func (t *tracker) add(hc *hconn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.conns[hc] = struct{}{}
	if len(t.conns) == 1 {
		select {
		case t.first <- struct{}{}:
		default:
		}
	}
	return true
}

// remove stops tracking hc (closed, hijacked or handed to HTTP/2).
func (t *tracker) remove(hc *hconn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[hc]; !ok {
		return
	}
	delete(t.conns, hc)
	if t.closing && len(t.conns) == 0 {
		close(t.empty)
	}
}

// each calls fn for every tracked connection, with t.mu held.
func (t *tracker) each(fn func(*hconn)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for hc := range t.conns {
		fn(hc)
	}
}

// goIdle marks hc idle; false when the listener is closing (the caller closes hc).
// Lock-free: Shutdown and Close set Listener.closing before they scan for idle
// connections, and hc reads it after marking itself idle, so one of the two sees the
// other (and only one of them wins the CompareAndSwap that closes it).
func (hc *hconn) goIdle() bool {
	hc.state.Store(stateIdle)
	if hc.l.closing.Load() {
		hc.state.CompareAndSwap(stateIdle, stateActive)
		return false
	}
	return true
}

// begin marks the listener closing and closes every idle or handshaking connection (a
// connection becoming active at the same moment wins the state race, and is answered).
// A handshaking one would not be served anyway: as with net/http, a request read once
// shutdown began is not answered.
func (t *tracker) begin() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closing {
		t.closing = true
		if len(t.conns) == 0 {
			close(t.empty)
		}
	}
	for hc := range t.conns {
		if hc.state.CompareAndSwap(stateIdle, stateClosed) || hc.state.CompareAndSwap(stateNew, stateClosed) {
			hc.l.park.Evict(&hc.parked) // before the close (see package idle)
			_ = hc.nc.Close()
		}
	}
}

// drain closes the idle connections and waits until the others are done or ctx is.
func (t *tracker) drain(ctx context.Context) error {
	t.begin()
	select {
	case <-t.empty:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeAll closes every connection and cancels the requests they serve.
func (t *tracker) closeAll() {
	t.begin()
	t.mu.Lock()
	defer t.mu.Unlock()
	for hc := range t.conns {
		hc.state.Store(stateClosed)
		hc.l.park.Evict(&hc.parked)
		_ = hc.nc.Close()
		hc.watch.abort()
	}
}
