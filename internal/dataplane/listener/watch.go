package listener

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// watchTick is the period of the listener's watch clock: a request that has run for two
// ticks (between one and two periods) is watched for its client going away. net/http
// reads in the background during every request; most of ours finish well before, and pay
// for an atomic load only.
const watchTick = 125 * time.Millisecond

// watchClock advances the listener's watch epoch every watchTick and lets every
// connection's watch look at it, until the listener closes. It stops while the listener
// tracks no connection (no request runs then; a port of TLS passthrough or TCP streams
// whose accepts the L4 loop takes never has one, and on one Go accepts a connection is
// tracked only until it is handed to its stream), so that an idle listener costs no
// wake-ups. It ends once the listener is closing and its last connection has left.
func (l *Listener) watchClock() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	for {
		if l.conns.none() {
			t.Stop()
			select {
			case <-l.done:
				return // closing, and no connection left: none can be added
			case <-l.conns.first:
			}
			t.Reset(watchTick)
		}
		// Not on l.done: the requests a Shutdown drains keep their timeouts; once the
		// listener closed and its last connection left, the check above returns.
		<-t.C
		e := l.epoch.Add(1)
		l.conns.each(func(hc *hconn) { hc.watch.tick(e) })
	}
}

// watch cancels the context of a running request when its client disconnects. Once the
// request has run for two watch ticks and its body was read to EOF (nothing else then
// reads the connection), a goroutine peeks at the connection through the bufio.Reader:
// EOF or an error cancels the request; data (a pipelined request) stays buffered for the
// loop. stop ends the peek with a read deadline in the past.
type watch struct {
	hc *hconn

	mu       sync.Mutex
	cancel   context.CancelFunc // of the running request; nil between requests
	epoch    uint64             // the listener's watch epoch when the request started
	bodyEOF  bool               // the request body was read to EOF (or there is none)
	due      bool               // the request has run long enough
	watching bool               // a peek runs; done is closed when it returns
	done     chan struct{}

	// Timeouts (timeout.go). active and started are written by the request's goroutines
	// without mu; begun is the epoch the request's head began to be read (set by run).
	active   atomic.Uint64 // epoch of the last bytes moved
	started  atomic.Bool   // the response is committed
	fired    atomic.Int32  // the timeout that fired, if any
	replying atomic.Bool   // the response is the 408 that replaced the handler's (timeoutReply)
	begun    uint64
	writeCut bool
}

// start begins watching the request whose context cancel cancels.
func (w *watch) start(cancel context.CancelFunc, noBody bool) {
	e := w.hc.l.epoch.Load()
	w.mu.Lock()
	w.cancel, w.bodyEOF, w.due, w.epoch = cancel, noBody, false, e
	w.active.Store(e)
	w.started.Store(false)
	w.fired.Store(0)
	w.replying.Store(false)
	w.writeCut = false
	w.mu.Unlock()
}

// tick is called by the watch clock at epoch e.
func (w *watch) tick(e uint64) {
	w.mu.Lock()
	if w.cancel == nil {
		w.mu.Unlock()
		return
	}
	if why := w.fired.Load(); why != 0 {
		w.fire(why)
	} else if why := w.expired(e); why != 0 {
		w.fire(why)
	}
	if w.due || e-w.epoch < 2 {
		w.mu.Unlock()
		return
	}
	w.due = true
	done := w.begin()
	w.mu.Unlock()
	if done != nil {
		go w.peek(done)
	}
}

// bodyDone is called by the request body at EOF.
func (w *watch) bodyDone() {
	w.mu.Lock()
	w.bodyEOF = true
	var done chan struct{}
	if w.cancel != nil && w.due {
		done = w.begin()
	}
	w.mu.Unlock()
	if done != nil {
		go w.peek(done)
	}
}

// begin returns the done channel of a peek to start now, or nil; w.mu is held.
func (w *watch) begin() chan struct{} {
	if !w.bodyEOF || w.watching || w.hc.br == nil {
		return nil
	}
	w.watching = true
	w.done = make(chan struct{})
	// A request without a body keeps the head's deadline (see readRequest); stop sets
	// one in the past after this, under w.mu.
	_ = w.hc.nc.SetReadDeadline(time.Time{})
	return w.done
}

func (w *watch) peek(done chan struct{}) {
	defer close(done)
	_, err := w.hc.br.Peek(1)
	if err != nil && !isTimeout(err) {
		w.abort()
	}
}

// stop ends watching the current request; it returns once no peek runs.
func (w *watch) stop() {
	w.mu.Lock()
	w.cancel = nil
	watching, done := w.watching, w.done
	w.watching, w.done = false, nil
	w.mu.Unlock()
	if watching {
		_ = w.hc.nc.SetReadDeadline(time.Unix(1, 0))
		<-done
		_ = w.hc.nc.SetReadDeadline(time.Time{})
	}
}

// abort cancels the running request, if any (client gone, write failed, Close).
func (w *watch) abort() {
	w.mu.Lock()
	cancel := w.cancel
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
