package h2

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/net/http2"

	"github.com/portcullis/portcullis/internal/dataplane/listener/idle"
)

// Reader waits. Whenever the read buffer is empty the reader waits for the next frame with
// a Peek (wait), which consumes nothing, rather than inside ReadFrame, so that a read
// deadline can end the wait without losing part of a frame. When the connection has no
// stream and nothing comes for idle.Delay — counted from when the reader starts waiting so,
// or from when the last stream ends while it waits — the connection parks in the server's
// idle set (package idle), giving up its reader goroutine, read buffer, frame reader and
// output buffers; resume continues it when the client sends its next frame (or Shutdown,
// Close or the idle timeout evict it). The wake-up is the hop timer (onHop), which sets
// the Peek's deadline in the past once the connection has been quiet that long. It is not
// a deadline armed at every quiet wait and cleared at the next frame: on a connection
// that idles between requests that was two deadline changes (~0.5 µs) per request; the
// timer is moved at every quiet wait and touches the deadline only to park.
// When the Peek times out crypto/tls holds no complete record, so the socket turning
// readable is what the next frame looks like. Deadlines are set and cleared under mu,
// where goAwayGraceful and becameIdleLocked set theirs: a wake-up of theirs is never
// cleared here.

type waitResult int

const (
	waitRead   waitResult = iota // input is buffered, or the next read reports an error
	waitStop                     // graceful shutdown and no stream left: end
	waitParked                   // the connection parked: this goroutine is done with it
)

// wait blocks until input is buffered (or an error), flushing queued output first.
func (c *conn) wait() waitResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.flushLocked()
	if c.gracefulDone && c.idleLocked() {
		return waitStop
	}
	if c.sawSettings && c.quietLocked() {
		c.startHopLocked()
	}
	c.peeking = true
	c.mu.Unlock()
	_, err := c.br.Peek(1)
	c.mu.Lock()
	c.peeking = false
	hop := c.hopArmed
	c.hopArmed = false
	if hop && !c.closing {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	if err == nil || !hop || !isTimeout(err) || !c.quietLocked() || c.br.Buffered() > 0 {
		return waitRead // data; an error, the preface deadline or a wake-up ReadFrame reports
	}
	if c.resumeFn == nil {
		c.resumeFn = c.resume
	}
	c.releaseReader()
	if !c.srv.idle.Park(&c.pe, c.raw, time.Time{}, c.resumeFn) {
		c.acquireReader()
		c.raw = nil // cannot park: wait on this goroutine from now on
		return waitRead
	}
	c.out.releaseLocked()
	c.canon, c.canonSize = nil, 0
	return waitParked
}

// quietLocked: the connection could park (no stream, not closing, a socket to watch).
func (c *conn) quietLocked() bool { return c.raw != nil && !c.closing && c.idleLocked() }

// startHopLocked records that the reader waits on a quiet connection and moves the hop
// timer to idle.Delay from now. Moving it at every quiet wait (a runtime timer change,
// ~0.05 µs) rather than letting it fire and re-arm keeps it from firing at all while
// requests keep coming: each firing could wake an idle process, which below saturation
// costs more than the timer changes it saves.
func (c *conn) startHopLocked() {
	c.quiet = c.srv.clock()
	c.hopSet = true
	if c.hopTimer == nil {
		c.hopTimer = time.AfterFunc(idle.Delay, c.onHop)
	} else {
		c.hopTimer.Reset(idle.Delay)
	}
}

// onHop wakes the reader's Peek (a deadline in the past) when the connection has been
// quiet for idle.Delay; it re-arms for the rest when it has been quiet for less (a
// firing that raced with startHopLocked), and stays unarmed when the connection is busy
// (startHopLocked arms it again).
func (c *conn) onHop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hopSet = false
	if !c.peeking || c.hopArmed || !c.quietLocked() || c.dead {
		return
	}
	if rest := c.quiet + int64(idle.Delay) - c.srv.clock(); rest > 0 {
		c.hopSet = true
		c.hopTimer.Reset(time.Duration(rest))
		return
	}
	_ = c.nc.SetReadDeadline(aLongTimeAgo())
	c.hopArmed = true
}

// resume continues a parked connection on a fresh goroutine: its socket is readable, or
// it was evicted (the loop then finds it closing or its socket closed).
func (c *conn) resume(error) {
	c.mu.Lock()
	c.acquireReader()
	c.mu.Unlock()
	c.run()
}

// acquireReader gives the connection a read buffer (pooled) and a fresh frame reader;
// releaseReader gives them up (the frame reader keeps a buffer as large as the largest
// frame it read).
func (c *conn) acquireReader() {
	if br, ok := c.srv.readers.Get().(*bufio.Reader); ok {
		br.Reset(c.nc)
		c.br = br
	} else {
		c.br = bufio.NewReaderSize(c.nc, 4<<10)
	}
	c.fr = http2.NewFramer(nil, c.br)
	c.fr.SetMaxReadFrameSize(maxReadFrameSize)
	c.fr.SetReuseFrames()
}

func (c *conn) releaseReader() {
	c.br.Reset(nil)
	c.srv.readers.Put(c.br)
	c.br, c.fr = nil, nil
}

// rawConn is the socket under nc (a *tls.Conn over a connection that exposes it), or nil.
func rawConn(nc net.Conn) syscall.RawConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
