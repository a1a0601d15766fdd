package listener

import (
	"context"
	"errors"
	"sync"
	"time"
)

// watchDelay is how long a request runs before its connection is watched for the client
// going away. net/http reads in the background during every request; most of ours finish
// well before this, so they pay only for a timer reset and stop.
const watchDelay = 250 * time.Millisecond

// watch cancels the context of a running request when its client disconnects. Once the
// request has run for watchDelay and its body was read to EOF (nothing else then reads
// the connection), a goroutine peeks at the connection through the bufio.Reader: EOF or
// an error cancels the request; data (a pipelined request) stays buffered for the loop.
// stop ends the peek with a read deadline in the past.
type watch struct {
	hc    *hconn
	timer *time.Timer // created on the connection's first request

	mu       sync.Mutex
	cancel   context.CancelFunc // of the running request; nil between requests
	bodyEOF  bool               // the request body was read to EOF (or there is none)
	due      bool               // watchDelay passed
	watching bool               // a peek runs; done is closed when it returns
	done     chan struct{}
}

// start begins watching the request whose context cancel cancels.
func (w *watch) start(cancel context.CancelFunc, noBody bool) {
	w.mu.Lock()
	w.cancel, w.bodyEOF, w.due = cancel, noBody, false
	w.mu.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(watchDelay, w.fire)
	} else {
		w.timer.Reset(watchDelay)
	}
}

func (w *watch) fire() {
	w.mu.Lock()
	if w.cancel == nil {
		w.mu.Unlock()
		return
	}
	w.due = true
	done := w.begin()
	w.mu.Unlock()
	if done != nil {
		w.peek(done)
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
	if w.timer != nil {
		w.timer.Stop()
	}
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
