package h2

import (
	"bytes"
	"errors"
	"net"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The differential client: it plays a frame sequence (steps) against one server over
// a net.Pipe and condenses the answers into an outcome (diff_test.go compares ours
// with x/net's). To take timing out of it, after every step that does not leave a
// header block open it sends a PING and waits for its ACK (the server has processed
// everything before it), then waits until every stream that the server will answer
// (the client ended the request, or the server answers at once: see answersAtOnce)
// has been ended by the server, is blocked by the client's flow-control windows, or
// the connection has failed. The handler (diffHandler) answers only once it has read
// the whole body, so nothing a server sends depends on when it is read.

// syncTimeout bounds each wait; it is reached only when a server never sends what the
// other one does (the outcome records it), never in a run where both agree.
const syncTimeout = 5 * time.Second

type diffClient struct {
	nc     net.Conn
	fr     *http2.Framer // writes
	enc    *hpack.Encoder
	hbuf   bytes.Buffer
	frames chan event // from the reader; closed when the connection ends
	out    outcome
	seq    uint64
	// The payload of the last sync PING acknowledged.
	syncAcked [8]byte
	open      bool // a header block is open (no sync: a PING would break it)
	st        map[uint32]*clientStream
	// Windows the server sends within (the client's SETTINGS and WINDOW_UPDATEs).
	connWin, initWin int64
	goAwayLast       uint32
	goAwaySeen       bool
	failed           bool // a GOAWAY with an error came: the server processes nothing more
	closed           bool
}

// clientStream is what the client sent on a stream and what it got back.
type clientStream struct {
	fields   []string // request header fields (for the kept differences)
	ended    bool     // the client sent END_STREAM
	bodySent int
	win      int64 // server's send window on the stream, beyond initWin
	gotData  int64
	done     bool // the server sent END_STREAM or RST_STREAM
	headers  bool // the server sent a response HEADERS
}

func newDiffClient(nc net.Conn) *diffClient {
	c := &diffClient{nc: nc, frames: make(chan event, 4096), st: map[uint32]*clientStream{},
		connWin: 65535, initWin: 65535}
	c.fr = http2.NewFramer(nc, nil)
	c.fr.AllowIllegalWrites = true // the fuzzer's frames may break any rule
	c.enc = hpack.NewEncoder(&c.hbuf)
	c.out.Streams = map[uint32][]string{}
	rf := http2.NewFramer(nil, nc)
	rf.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	rf.MaxHeaderListSize = 1 << 20
	rf.SetMaxReadFrameSize(1 << 24)
	go func() {
		defer close(c.frames)
		for {
			f, err := rf.ReadFrame()
			if err != nil {
				return
			}
			c.frames <- copyFrame(f)
		}
	}()
	return c
}

// handshake sends the preface and SETTINGS, and acknowledges the server's SETTINGS.
func (c *diffClient) handshake() error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(syncTimeout))
	if _, err := c.nc.Write([]byte(http2.ClientPreface)); err != nil {
		return err
	}
	if err := c.fr.WriteSettings(); err != nil {
		return err
	}
	f, ok := c.recv(time.Now().Add(syncTimeout))
	if !ok || f.typ != http2.FrameSettings || f.flags.Has(http2.FlagSettingsAck) {
		return errors.New("no SETTINGS from the server")
	}
	if err := c.fr.WriteSettingsAck(); err != nil {
		return err
	}
	// x/net acknowledges the client's SETTINGS asynchronously: wait for it, so that a
	// first step failing the connection does not race it.
	for c.out.SettingsAcks == 0 {
		if _, ok := c.recv(time.Now().Add(syncTimeout)); !ok {
			return errors.New("no SETTINGS ACK from the server")
		}
	}
	c.out.SettingsAcks = 0
	return nil
}

// recv takes the next frame and records it; false when the connection ended or at d.
func (c *diffClient) recv(d time.Time) (event, bool) {
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.closed = true
			return event{}, false
		}
		c.note(f)
		return f, true
	case <-time.After(time.Until(d)):
		return event{}, false
	}
}

// syncMark starts the payload of the client's own PINGs (the decoder keeps it out of
// the fuzzed ones).
const syncMark = 0xd5

// sync waits until the server has processed everything sent and answered what it
// will answer (see the top of the file). It returns false when the connection failed.
func (c *diffClient) sync() bool {
	if c.closed || c.failed || c.open {
		return !c.closed && !c.failed
	}
	c.seq++
	data := [8]byte{syncMark}
	for i := 1; i < 8; i++ {
		data[i] = byte(c.seq >> (8 * (i - 1)))
	}
	if !c.write(func() error { return c.fr.WritePing(false, data) }) {
		return false
	}
	deadline := time.Now().Add(syncTimeout)
	for c.syncAcked != data { // the ACK may have come while write waited
		if c.closingDone() {
			return false // we may not read the PING: we stop reading once idle
		}
		f, ok := c.recv(deadline)
		if !ok {
			if !c.closed || !c.goAwaySeen { // a graceful close may leave it unread
				c.out.Notes = append(c.out.Notes, "no PING ACK")
			}
			return false
		}
		if f.typ == http2.FrameGoAway && f.code != http2.ErrCodeNo {
			return false // the server processes nothing more
		}
	}
	waited := false
	for c.pending() {
		waited = true
		if _, ok := c.recv(deadline); !ok {
			if !c.closed {
				c.out.Notes = append(c.out.Notes, "stream left unanswered")
			}
			return !c.closed
		}
	}
	if waited {
		// A response just ended: x/net closes the stream when its serve loop learns the
		// write is done, which races the client's next frame there. One more round trip
		// lets that happen first.
		return c.sync()
	}
	return true
}

// write runs a Framer write on a goroutine of its own and waits for it, taking the
// server's frames meanwhile: a server that failed the connection may stop reading
// (x/net reads no more of a frame after a bad header, and closes a second later), and
// its GOAWAY is then what ends the wait. False: the write failed or the connection
// did; nothing more is written then (the write may still be blocked until the client
// closes its end).
func (c *diffClient) write(fn func() error) bool {
	_ = c.nc.SetWriteDeadline(time.Now().Add(syncTimeout))
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timeout := time.After(syncTimeout)
	for {
		select {
		case err := <-done:
			if err != nil { // the server closed: take what it wrote before
				c.drain()
			}
			return err == nil
		case f, ok := <-c.frames:
			if !ok {
				c.closed = true
				return false
			}
			c.note(f)
			if f.typ == http2.FrameGoAway && f.code != http2.ErrCodeNo {
				return false
			}
		case <-timeout:
			return false
		}
	}
}

// drain takes the frames the server wrote before the connection ended.
func (c *diffClient) drain() {
	for {
		if _, ok := c.recv(time.Now().Add(syncTimeout)); !ok {
			return
		}
	}
}

// closingDone reports that the server sent GOAWAY(NO_ERROR) and every stream it will
// still serve is done: it only closes from there, x/net a second later, we at once
// (both right, RFC 9113 6.8), so nothing after is compared.
func (c *diffClient) closingDone() bool {
	if !c.goAwaySeen {
		return false
	}
	for id, s := range c.st {
		request := s.fields != nil || s.ended // not a stream only named by a WINDOW_UPDATE
		if id != 0 && id <= c.goAwayLast && request && !s.done {
			return false
		}
	}
	return true
}

// pending reports whether a stream still has an answer coming.
func (c *diffClient) pending() bool {
	for id, s := range c.st {
		if s.done || id == 0 || (c.goAwaySeen && id > c.goAwayLast) {
			continue
		}
		if !s.ended && !answersAtOnce(s.fields) {
			continue // the handler waits for the rest of the body
		}
		if s.headers && (c.connWin <= 0 || c.initWin+s.win-s.gotData <= 0) {
			continue // the server waits for window
		}
		return true
	}
	return false
}
