package listener

import (
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener/idle"
)

type waitResult int

const (
	waitReady waitResult = iota // a request is there to read
	waitClose                   // close the connection
	waitMoved                   // a fresh goroutine waits on: this one is done with it
)

// hopDelay is how long a connection waits for its next request with its buffers, on the
// goroutine that served the last one (idle.Delay). After that, it returns the buffers to
// the pools, drops its last request, and parks (package idle) or, where it cannot, the
// wait moves to a fresh goroutine without a read buffer, so that a long-idle connection
// keeps neither the buffers nor the stack the request grew (stacks only shrink at GC, by
// halves).
const hopDelay = idle.Delay

// next waits up to timeout (0: forever) for the next request. The connection is idle
// meanwhile (Shutdown closes it) unless a request is buffered already. With fresh, the
// request head then gets its own ReadHeaderTimeout; otherwise the wait's deadline also
// bounds it.
//
// On TLS connections the wait is a one-byte read through crypto/tls, without a bufio
// buffer: it returns at once when crypto/tls has buffered a record of the next request
// (read with the last one), and otherwise blocks in the poller as a bufio read would,
// with no extra system call. The byte is handed to the bufio.Reader by connReader. Plain
// connections wait in the bufio.Reader (for them a one-byte read would be a system call).
func (hc *hconn) next(timeout time.Duration, fresh bool) waitResult {
	if hc.l.closing.Load() {
		return waitClose
	}
	// The request head may read this much off the connection, counted from here.
	hc.cr.remain = int64(hc.l.cfg.MaxHeaderBytes) + 4096
	if hc.br != nil && hc.br.Buffered() > 0 {
		hc.setHeaderDeadline()
		return waitReady
	}
	if !hc.goIdle() {
		return waitClose
	}
	hc.release(hc.tc != nil)
	now := time.Now()
	var dl time.Time
	if timeout > 0 {
		dl = now.Add(timeout)
	}
	hop := now.Add(hopDelay)
	long := dl.IsZero() || hop.Before(dl)
	if long {
		_ = hc.nc.SetReadDeadline(hop)
	} else {
		_ = hc.nc.SetReadDeadline(dl)
	}
	var err error
	if hc.br != nil {
		_, err = hc.br.Peek(1)
	} else {
		err = hc.cr.readFirst()
	}
	if err == nil || !long || !isTimeout(err) || hc.state.Load() != stateIdle {
		if hc.woke(err, fresh, dl) != waitReady {
			return waitClose
		}
		hc.acquire()
		return waitReady
	}
	// Idle for hopDelay: crypto/tls holds no complete record (it would have returned it),
	// so the socket becoming readable is what the next request looks like. The connection
	// parks without a goroutine (package idle) or waits on a fresh one.
	hc.release(true)
	hc.res.idle()
	hc.lastHead = ""
	if hc.park(fresh, dl) {
		return waitMoved
	}
	_ = hc.nc.SetReadDeadline(dl)
	go hc.resume(fresh, dl)
	return waitMoved
}

// park puts the idle connection into the listener's idle set (package idle) until its
// socket is readable or dl passes, without a goroutine; false if it cannot (the caller
// waits on a goroutine).
func (hc *hconn) park(fresh bool, dl time.Time) bool {
	if hc.wait.conn(hc.c) != nil {
		return false
	}
	hc.parkFresh, hc.parkDL = fresh, dl
	if hc.resumeFn == nil {
		hc.resumeFn = hc.resumeParked
	}
	if !hc.l.park.Park(&hc.parked, hc.wait.raw, dl, hc.resumeFn) {
		return false
	}
	// Shutdown or Close may have marked hc closed before it was in the set, and so not
	// found it there: then it is ours to end.
	if hc.state.Load() == stateClosed {
		hc.l.park.Evict(&hc.parked)
	}
	return true
}

// resume is the rest of a long idle wait, on a fresh goroutine without buffers.
func (hc *hconn) resume(fresh bool, dl time.Time) {
	if hc.woke(hc.wait.readable(hc.c), fresh, dl) != waitReady {
		hc.close()
		return
	}
	hc.acquire()
	hc.run()
}

// resumeParked continues a parked connection on a fresh goroutine: err is nil when its
// socket became readable.
func (hc *hconn) resumeParked(err error) {
	if hc.woke(err, hc.parkFresh, hc.parkDL) != waitReady {
		hc.close()
		return
	}
	hc.acquire()
	hc.run()
}

// woke ends an idle wait that returned err; the request head is then due by dl unless
// fresh.
func (hc *hconn) woke(err error, fresh bool, dl time.Time) waitResult {
	if err != nil || !hc.state.CompareAndSwap(stateIdle, stateActive) {
		return waitClose // timed out, failed, or closed by Shutdown or Close
	}
	if fresh {
		hc.setHeaderDeadline()
	} else {
		_ = hc.nc.SetReadDeadline(dl)
	}
	return waitReady
}
