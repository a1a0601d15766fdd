package h2

import (
	"bytes"
	"errors"
	"fmt"
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
	frames chan any // frames from the reader (see copyFrame); closed when the connection ends
	out    outcome
	seq    uint64
	open   bool // a header block is open (no sync: a PING would break it)
	st     map[uint32]*clientStream
	// Windows the server sends within (the client's SETTINGS and WINDOW_UPDATEs).
	connWin, initWin int64
	goAwayLast       uint32
	goAwaySeen       bool
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
	c := &diffClient{nc: nc, frames: make(chan any, 4096), st: map[uint32]*clientStream{},
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

// copyFrame detaches a frame from the reader's buffer (the Framer reuses it).
func copyFrame(f http2.Frame) any {
	switch f := f.(type) {
	case *http2.DataFrame:
		return &dataCopy{h: f.FrameHeader, data: append([]byte(nil), f.Data()...)}
	case *http2.GoAwayFrame:
		return &http2.GoAwayFrame{FrameHeader: f.FrameHeader, LastStreamID: f.LastStreamID, ErrCode: f.ErrCode}
	}
	return f // the others keep no reference to the buffer
}

type dataCopy struct {
	h    http2.FrameHeader
	data []byte
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
	if sf, isSettings := f.(*http2.SettingsFrame); !ok || !isSettings || sf.IsAck() {
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
func (c *diffClient) recv(d time.Time) (any, bool) {
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.closed = true
			return nil, false
		}
		c.note(f)
		return f, true
	case <-time.After(time.Until(d)):
		return nil, false
	}
}

// note records a frame of the server in the outcome.
func (c *diffClient) note(f any) {
	var id uint32
	switch f := f.(type) {
	case http2.Frame:
		id = f.Header().StreamID
	case *dataCopy:
		id = f.h.StreamID
	}
	s := c.stream(id)
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			c.out.SettingsAcks++
		}
	case *http2.PingFrame:
		if f.IsAck() && f.Data[0] != syncMark {
			c.out.Pings = append(c.out.Pings, fmt.Sprintf("%x", f.Data))
		}
	case *http2.GoAwayFrame:
		c.out.GoAway = append(c.out.GoAway, f.ErrCode.String())
		c.goAwaySeen, c.goAwayLast = true, f.LastStreamID
	case *http2.RSTStreamFrame:
		c.out.Streams[id] = append(c.out.Streams[id], "RST "+f.ErrCode.String())
		s.done = true
	case *http2.MetaHeadersFrame:
		c.out.Streams[id] = append(c.out.Streams[id], responseHeaders(f))
		s.headers = s.headers || f.PseudoValue("status") >= "200"
		s.done = s.done || f.StreamEnded()
	case *dataCopy:
		ev := fmt.Sprintf("DATA %q", f.data)
		if f.h.Flags.Has(http2.FlagDataEndStream) {
			ev += " END"
			s.done = true
		}
		c.out.Streams[id] = append(c.out.Streams[id], ev)
		s.gotData += int64(f.h.Length)
		c.connWin -= int64(f.h.Length)
	}
}

func (c *diffClient) stream(id uint32) *clientStream {
	s := c.st[id]
	if s == nil {
		s = &clientStream{}
		c.st[id] = s
	}
	return s
}

// syncMark starts the payload of the client's own PINGs (the decoder keeps it out of
// the fuzzed ones).
const syncMark = 0xd5

// sync waits until the server has processed everything sent and answered what it
// will answer (see the top of the file). It returns false when the connection failed.
func (c *diffClient) sync() bool {
	if c.closed || c.open {
		return !c.closed
	}
	c.seq++
	data := [8]byte{syncMark}
	for i := 1; i < 8; i++ {
		data[i] = byte(c.seq >> (8 * (i - 1)))
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(syncTimeout))
	// Written from a goroutine: a server that failed the connection may not read it
	// (x/net stops reading for a second), and its GOAWAY is what ends the wait.
	written := make(chan error, 1)
	go func() { written <- c.fr.WritePing(false, data) }()
	deadline := time.Now().Add(syncTimeout)
	for acked := false; !acked; {
		f, ok := c.recv(deadline)
		if !ok {
			c.out.Notes = append(c.out.Notes, "no PING ACK")
			return false
		}
		if p, isPing := f.(*http2.PingFrame); isPing && p.IsAck() && p.Data == data {
			acked = true
			<-written // the Framer is free for the next step
		}
		if g, isGoAway := f.(*http2.GoAwayFrame); isGoAway && g.ErrCode != http2.ErrCodeNo {
			return false // the server processes nothing more
		}
	}
	for c.pending() {
		if _, ok := c.recv(deadline); !ok {
			if !c.closed {
				c.out.Notes = append(c.out.Notes, "stream left unanswered")
			}
			return !c.closed
		}
	}
	return true
}

// drain takes the frames the server wrote before the connection ended.
func (c *diffClient) drain() {
	for {
		if _, ok := c.recv(time.Now().Add(syncTimeout)); !ok {
			return
		}
	}
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
