package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portcullis/portcullis/internal/dataplane/listener/idle"
)

// conn is one HTTP/2 connection. Its serve goroutine reads and processes frames; stream
// handlers run on goroutines of their own. Everything under mu is shared between them:
// the stream table, flow-control windows, and the output (see write.go).
type conn struct {
	srv    *Server
	nc     net.Conn
	base   context.Context
	remote string
	tls    *tls.ConnectionState
	done   chan struct{} // closed when serve returns

	// Reader state, owned by the serve goroutine.
	br          *bufio.Reader
	fr          *http2.Framer
	hdec        *hpack.Decoder
	blk         headerBlock
	maxClientID uint32
	sawSettings bool
	canon       map[string]string // lower-case wire name -> canonical key
	canonSize   int
	emptyData   int // consecutive empty DATA frames without END_STREAM (guarded by mu)

	mu      sync.Mutex
	cond    sync.Cond // window, buffer space and stream state changes
	streams map[uint32]*stream
	running int       // handlers running (reset streams' included)
	queue   []*stream // streams whose handler waits for a running slot

	sendWindow        int32 // connection send window (peer's)
	initialSendWindow int32 // SETTINGS_INITIAL_WINDOW_SIZE of the peer
	peerMaxFrame      uint32
	peerMaxHeaderList uint32
	recvAvail         int32 // connection receive window granted and not used
	recvUnsent        int32 // consumed bytes not yet granted back
	unackedSettings   int

	out          output
	closing      bool // no more streams: GOAWAY sent or connection failing
	goAwayCode   http2.ErrCode
	goAwaySent   bool
	dead         bool        // the connection is closed: every wait returns
	idleTimer    *time.Timer // fires IdleTimeout after idleSince at the earliest (onIdle)
	idleArmed    bool        // idleTimer is set
	idleSince    int64       // Server.clock when the connection last became idle
	streamTimer  *time.Timer // stream timeouts (timeout.go)
	timerAt      int64       // Server.clock when streamTimer fires; 0: not armed
	gracefulDone bool        // graceful shutdown: serve closes once streams are done

	// Parking (see wait, park.go): a long-idle connection gives up its reader goroutine,
	// read buffer, frame reader and output buffers.
	pe       idle.Entry
	raw      syscall.RawConn // the socket under TLS; nil: the connection does not park
	resumeFn func(error)     // c.resume, made once
	peeking  bool            // the reader waits in wait's Peek (guarded by mu)
	hopArmed bool            // onHop set that Peek's deadline to wake it (guarded by mu)
	hopTimer *time.Timer     // fires idle.Delay after quiet at the earliest (onHop)
	hopSet   bool            // hopTimer is set (guarded by mu)
	quiet    int64           // Server.clock when the reader began waiting quiet (mu)
	stopBase func() bool     // stops watching the base context
}

func newConn(s *Server, base context.Context, nc net.Conn) *conn {
	c := &conn{
		srv:               s,
		nc:                nc,
		base:              base,
		remote:            nc.RemoteAddr().String(),
		done:              make(chan struct{}),
		streams:           make(map[uint32]*stream),
		sendWindow:        65535,
		initialSendWindow: 65535,
		peerMaxFrame:      16384,
		peerMaxHeaderList: 0xffffffff,
		recvAvail:         65535,
		canon:             make(map[string]string),
	}
	if tc, ok := nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		c.tls = &cs
	}
	c.cond.L = &c.mu
	c.acquireReader()
	c.raw = rawConn(nc)
	c.hdec = hpack.NewDecoder(hpackTableSize, c.onField)
	c.hdec.SetMaxStringLength(int(s.maxHeaderList()))
	c.out.init(c)
	return c
}

// serve runs the connection: preface, SETTINGS, then frames until an error or GOAWAY
// (or until it parks: see wait).
func (c *conn) serve() {
	if d := c.srv.ReadHeaderTimeout; d > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(d))
	}
	c.mu.Lock()
	c.out.fw.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.srv.maxStreams()},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamRecvWindow},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: maxReadFrameSize},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: c.srv.maxHeaderList()},
	)
	c.unackedSettings++
	c.out.fw.WriteWindowUpdate(0, connRecvWindow-65535)
	c.recvAvail = connRecvWindow
	c.out.flushLocked()
	c.mu.Unlock()

	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.br, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		c.end()
		return
	}
	if c.srv.IdleTimeout > 0 {
		c.mu.Lock()
		c.idleSince, c.idleArmed = c.srv.clock(), true
		c.idleTimer = time.AfterFunc(c.srv.IdleTimeout, c.onIdle)
		c.mu.Unlock()
	}
	c.run()
}

// run reads frames until the connection ends (it is then torn down) or parks.
func (c *conn) run() {
	if !c.loop() {
		c.end()
	}
}

// end tears the connection down and forgets it.
func (c *conn) end() {
	c.teardown()
	c.srv.forget(c)
	if c.stopBase != nil {
		c.stopBase()
	}
	close(c.done)
}

// loop reads frames. Frames the reader queues (acks, window updates, resets) are
// flushed once everything already buffered has been processed, before blocking. It
// returns true when the connection parked (its goroutine is done with it), false when
// the connection is to end.
func (c *conn) loop() bool {
	for {
		if c.br.Buffered() == 0 {
			switch c.wait() {
			case waitStop:
				return false
			case waitParked:
				return true
			}
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			if !c.readError(err) {
				return false
			}
			continue
		}
		if !c.sawSettings {
			sf, ok := f.(*http2.SettingsFrame)
			if !ok || sf.IsAck() {
				c.goAway(http2.ErrCodeProtocol)
				return false
			}
			c.sawSettings = true
			if c.srv.ReadHeaderTimeout > 0 {
				c.mu.Lock()
				if !c.closing { // a graceful shutdown's wake-up stands (see wait)
					_ = c.nc.SetReadDeadline(time.Time{})
				}
				c.mu.Unlock()
			}
		}
		if hf, ok := f.(*http2.HeadersFrame); ok {
			err = c.headers(hf)
		} else {
			err = c.process(f)
		}
		if err != nil {
			if !c.handleError(err) {
				return false
			}
		}
	}
}

// readError handles an error of ReadFrame; false ends the connection.
func (c *conn) readError(err error) bool {
	var se http2.StreamError
	switch {
	case errors.As(err, &se):
		return c.handleError(se)
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.goAway(http2.ErrCodeFrameSize)
	case isConnError(err):
		return c.handleError(err)
	}
	// Anything else (EOF, a deadline: the preface timeout or the wake-up of a graceful
	// shutdown whose last stream is done) ends the connection.
	return false
}

func isConnError(err error) bool {
	var ce http2.ConnectionError
	return errors.As(err, &ce)
}

// handleError resets a stream (StreamError) or fails the connection with GOAWAY; false
// ends the connection.
func (c *conn) handleError(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		c.mu.Lock()
		if st := c.streams[se.StreamID]; st != nil {
			c.closeStreamLocked(st, errStreamReset)
		}
		c.out.controlLocked()
		c.out.fw.WriteRSTStream(se.StreamID, se.Code)
		c.mu.Unlock()
		return true
	case errors.As(err, &ce):
		c.srv.Logger.Debug("http2 connection error", "remote", c.remote, "code", http2.ErrCode(ce).String())
		c.goAway(http2.ErrCode(ce))
	}
	return false
}

// goAway sends GOAWAY with code and the last stream id seen; the connection then closes.
func (c *conn) goAway(code http2.ErrCode) {
	c.mu.Lock()
	c.closing = true
	if !c.goAwaySent {
		c.goAwaySent, c.goAwayCode = true, code
		c.out.fw.WriteGoAway(c.maxClientIDLocked(), code, nil)
	}
	c.out.flushLocked()
	c.mu.Unlock()
}

// maxClientIDLocked reads maxClientID under mu (the reader writes it under mu too).
func (c *conn) maxClientIDLocked() uint32 { return c.maxClientID }

// goAwayGraceful starts a graceful shutdown: GOAWAY(NO_ERROR), no new streams; the
// connection closes when the streams in flight are done.
func (c *conn) goAwayGraceful() {
	c.mu.Lock()
	c.closing = true
	c.gracefulDone = true
	if !c.goAwaySent {
		c.goAwaySent, c.goAwayCode = true, http2.ErrCodeNo
		c.out.fw.WriteGoAway(c.maxClientID, http2.ErrCodeNo, nil)
	}
	c.out.flushLocked()
	if c.idleLocked() {
		// Wake the reader (under mu: see wait), or resume it if parked: it closes.
		_ = c.nc.SetReadDeadline(time.Now())
		c.srv.idle.Evict(&c.pe)
	}
	c.mu.Unlock()
}

func (c *conn) idleLocked() bool { return len(c.streams) == 0 && c.running == 0 && len(c.queue) == 0 }

// onIdle runs when the idle timer fires: a connection without streams since IdleTimeout
// ago goes away. The timer is not stopped when a stream opens nor reset when the last one
// ends (that was two timer operations per request on a connection that idles between
// requests): it fires, finds the connection busy (it is re-armed when the connection next
// becomes idle) or idle for less than IdleTimeout (it is re-armed for the rest).
func (c *conn) onIdle() {
	c.mu.Lock()
	c.idleArmed = false
	idle := c.idleLocked() && !c.dead
	if idle {
		if rest := c.idleSince + int64(c.srv.IdleTimeout) - c.srv.clock(); rest > 0 {
			c.idleArmed = true
			c.idleTimer.Reset(time.Duration(rest))
			idle = false
		}
	}
	c.mu.Unlock()
	if idle {
		c.goAwayGraceful()
	}
}

// startIdleLocked records that the connection became idle and makes sure the idle timer
// will look at it.
func (c *conn) startIdleLocked() {
	if c.idleTimer == nil || c.closing {
		return
	}
	c.idleSince = c.srv.clock()
	if !c.idleArmed {
		c.idleArmed = true
		c.idleTimer.Reset(c.srv.IdleTimeout)
	}
}

// abort closes the connection at once (Server.Close, base context cancelled).
func (c *conn) abort() {
	c.mu.Lock()
	c.killLocked()
	c.mu.Unlock()
}

// killLocked marks the connection dead, closes the socket and wakes every waiter.
func (c *conn) killLocked() {
	if c.dead {
		return
	}
	c.dead = true
	c.closing = true
	c.srv.idle.Evict(&c.pe) // before the close: its reader resumes and ends it
	_ = c.nc.Close()
	c.cond.Broadcast()
}

// teardown ends every stream and closes the connection, lingering for the peer to read
// a GOAWAY we sent.
func (c *conn) teardown() {
	c.mu.Lock()
	if c.idleTimer != nil {
		c.idleTimer.Stop()
		c.idleArmed = false
	}
	if c.hopTimer != nil {
		c.hopTimer.Stop()
		c.hopSet = false
	}
	c.closing = true
	c.stopTimerLocked()
	for _, st := range c.streams {
		c.closeStreamLocked(st, errConnClosed)
	}
	c.queue = nil
	c.out.drainLocked() // a flush in progress must finish before CloseWrite below
	linger := c.goAwaySent && !c.dead && c.out.err == nil
	c.mu.Unlock()
	if linger {
		c.linger()
	}
	c.mu.Lock()
	c.killLocked()
	c.mu.Unlock()
}

// linger reads and discards for up to lingerTimeout, so that closing with unread input
// does not reset the connection before the peer has read our last frames.
func (c *conn) linger() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.CopyN(io.Discard, c.br, 256<<10)
}
