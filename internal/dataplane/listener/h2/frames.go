package h2

import (
	"io"
	"math"
	"time"

	"golang.org/x/net/http2"
)

// aLongTimeAgo is a deadline in the past: it wakes a blocked read at once.
func aLongTimeAgo() time.Time { return time.Unix(1, 0) }

func connErr(code http2.ErrCode) error { return http2.ConnectionError(code) }

func streamErr(id uint32, code http2.ErrCode) error {
	return http2.StreamError{StreamID: id, Code: code}
}

// process handles one frame on the serve goroutine (RFC 9113 section 6).
func (c *conn) process(f http2.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.out.tooManyControlLocked() {
		return connErr(http2.ErrCodeEnhanceYourCalm)
	}
	// After a GOAWAY, frames of streams we will not serve are dropped (connection flow
	// control still counts their DATA).
	if c.goAwaySent && (c.goAwayCode != http2.ErrCodeNo || f.Header().StreamID > c.maxClientID) {
		if df, ok := f.(*http2.DataFrame); ok {
			if !c.takeConnLocked(df.Length) {
				return connErr(http2.ErrCodeFlowControl)
			}
			c.returnConnWindowLocked(int32(df.Length))
		}
		return nil
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.processSettingsLocked(f)
	case *http2.DataFrame:
		return c.processDataLocked(f)
	case *http2.WindowUpdateFrame:
		return c.processWindowUpdateLocked(f)
	case *http2.PingFrame:
		if f.StreamID != 0 {
			return connErr(http2.ErrCodeProtocol)
		}
		if !f.IsAck() {
			c.out.controlLocked()
			_ = c.out.fw.WritePing(true, f.Data)
		}
	case *http2.RSTStreamFrame:
		if c.idleStreamLocked(f.StreamID) {
			return connErr(http2.ErrCodeProtocol)
		}
		if st := c.streams[f.StreamID]; st != nil {
			c.closeStreamLocked(st, errStreamReset)
		}
	case *http2.PriorityFrame:
		if f.StreamID == f.StreamDep {
			return streamErr(f.StreamID, http2.ErrCodeProtocol)
		}
	case *http2.GoAwayFrame:
		// The client will open no more streams: finish these and close, telling it so
		// with a GOAWAY(NO_ERROR) of ours, as x/net does (its graceful shutdown).
		c.closing, c.gracefulDone = true, true
		if !c.goAwaySent {
			c.goAwaySent, c.goAwayCode = true, http2.ErrCodeNo
			c.out.controlLocked()
			_ = c.out.fw.WriteGoAway(c.maxClientID, http2.ErrCodeNo, nil)
		}
	case *http2.PushPromiseFrame:
		return connErr(http2.ErrCodeProtocol)
	}
	return nil
}

// idleStreamLocked reports whether id names a stream the client has not opened yet,
// or one of the even ids only a server opens (and we push none): idle, as in x/net.
func (c *conn) idleStreamLocked(id uint32) bool {
	return id == 0 || id%2 == 0 || id > c.maxClientID
}

func (c *conn) processSettingsLocked(f *http2.SettingsFrame) error {
	if f.IsAck() {
		c.unackedSettings--
		if c.unackedSettings < 0 {
			return connErr(http2.ErrCodeProtocol)
		}
		return nil
	}
	// At most 100 settings, as x/net; but repeated ones are processed in order (RFC
	// 9113 6.5.3; h2spec 6.5.3/1) where x/net refuses the frame (design 0010).
	if f.NumSettings() > 100 {
		return connErr(http2.ErrCodeProtocol)
	}
	// SETTINGS_INITIAL_WINDOW_SIZE moves every stream's send window by the change.
	// Repeated in one frame, each value is checked against the largest window in
	// order and only the last is applied: a frame costs one pass over the streams.
	initial, maxWindow := c.initialSendWindow, int64(-1)
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.out.henc.SetMaxDynamicTableSize(s.Val)
		case http2.SettingInitialWindowSize:
			if maxWindow < 0 {
				maxWindow = math.MinInt32
				for _, st := range c.streams {
					maxWindow = max(maxWindow, int64(st.sendWindow))
				}
			}
			if maxWindow+int64(s.Val)-int64(c.initialSendWindow) > 1<<31-1 {
				return connErr(http2.ErrCodeFlowControl)
			}
			initial = int32(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		case http2.SettingMaxHeaderListSize:
			c.peerMaxHeaderList = s.Val
		case http2.SettingNoRFC7540Priorities:
			if s.Val > 1 { // as x/net (RFC 9218 2.1)
				return connErr(http2.ErrCodeProtocol)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if growth := initial - c.initialSendWindow; growth != 0 {
		c.initialSendWindow = initial
		for _, st := range c.streams {
			st.sendWindow += growth // checked above
		}
		c.cond.Broadcast()
	}
	c.out.controlLocked()
	return c.out.fw.WriteSettingsAck()
}

func (c *conn) processWindowUpdateLocked(f *http2.WindowUpdateFrame) error {
	if f.StreamID == 0 {
		if !addWindow(&c.sendWindow, int32(f.Increment)) {
			return connErr(http2.ErrCodeFlowControl)
		}
		c.cond.Broadcast()
		return nil
	}
	if c.idleStreamLocked(f.StreamID) {
		return connErr(http2.ErrCodeProtocol)
	}
	st := c.streams[f.StreamID]
	if st == nil { // closed: allowed, ignored
		return nil
	}
	if !addWindow(&st.sendWindow, int32(f.Increment)) {
		return streamErr(f.StreamID, http2.ErrCodeFlowControl)
	}
	c.cond.Broadcast()
	return nil
}

// addWindow adds n to a send window; false if it would exceed 2^31-1.
func addWindow(w *int32, n int32) bool {
	sum := int64(*w) + int64(n)
	if sum > 1<<31-1 {
		return false
	}
	*w = int32(sum)
	return true
}

func (c *conn) processDataLocked(f *http2.DataFrame) error {
	id := f.StreamID
	if c.idleStreamLocked(id) {
		return connErr(http2.ErrCodeProtocol)
	}
	// Empty DATA frames without END_STREAM carry nothing and cost a frame each
	// (CVE-2019-9518): a run of them is a flood.
	if f.Length == 0 && !f.StreamEnded() {
		if c.emptyData++; c.emptyData > maxEmptyData {
			return connErr(http2.ErrCodeEnhanceYourCalm)
		}
	} else {
		c.emptyData = 0
	}
	if !c.takeConnLocked(f.Length) {
		return connErr(http2.ErrCodeFlowControl)
	}
	st := c.streams[id]
	if st == nil || st.remoteClosed || st.gotTrailers {
		c.returnConnWindowLocked(int32(f.Length))
		return streamErr(id, http2.ErrCodeStreamClosed)
	}
	if int64(f.Length) > int64(st.recvAvail) {
		c.returnConnWindowLocked(int32(f.Length))
		return streamErr(id, http2.ErrCodeFlowControl)
	}
	st.recvAvail -= int32(f.Length)
	data := f.Data()
	if st.declLen >= 0 && st.gotLen+int64(len(data)) > st.declLen {
		c.returnConnWindowLocked(int32(f.Length))
		return streamErr(id, http2.ErrCodeProtocol)
	}
	st.gotLen += int64(len(data))
	c.touchLocked(st)
	if pad := int32(f.Length) - int32(len(data)); pad > 0 {
		c.returnConnWindowLocked(pad)
		c.returnStreamWindowLocked(st, pad)
	}
	if len(data) > 0 && !st.body.write(data) {
		c.returnConnWindowLocked(int32(len(data))) // the handler closed the body
	}
	if f.StreamEnded() {
		return c.endRemoteLocked(st)
	}
	return nil
}

// endRemoteLocked handles END_STREAM from the client.
func (c *conn) endRemoteLocked(st *stream) error {
	if st.declLen >= 0 && st.gotLen != st.declLen {
		return streamErr(st.id, http2.ErrCodeProtocol)
	}
	st.remoteClosed = true
	st.body.closeWithError(io.EOF)
	if st.localClosed {
		c.closeStreamLocked(st, errStreamClosed)
	}
	return nil
}

// takeConnLocked takes n from the connection receive window.
func (c *conn) takeConnLocked(n uint32) bool {
	if int64(n) > int64(c.recvAvail) {
		return false
	}
	c.recvAvail -= int32(n)
	return true
}

// returnConnWindowLocked grants n consumed bytes back to the client, in updates of at
// least 4 KiB unless the window ran dry (net/http's inflow.add).
func (c *conn) returnConnWindowLocked(n int32) {
	c.recvUnsent += n
	if c.recvUnsent < 4<<10 && c.recvUnsent < c.recvAvail {
		return
	}
	c.recvAvail += c.recvUnsent
	c.out.controlLocked()
	_ = c.out.fw.WriteWindowUpdate(0, uint32(c.recvUnsent))
	c.recvUnsent = 0
}

func (c *conn) returnStreamWindowLocked(st *stream, n int32) {
	if st.closed || st.remoteClosed {
		return
	}
	st.recvUnsent += n
	if st.recvUnsent < 4<<10 && st.recvUnsent < st.recvAvail {
		return
	}
	st.recvAvail += st.recvUnsent
	c.out.controlLocked()
	_ = c.out.fw.WriteWindowUpdate(st.id, uint32(st.recvUnsent))
	st.recvUnsent = 0
}

// consumed is called by a handler that read n body bytes: the window goes back.
func (c *conn) consumed(st *stream, n int) {
	c.mu.Lock()
	c.returnConnWindowLocked(int32(n))
	c.returnStreamWindowLocked(st, int32(n))
	c.out.flushLocked()
	c.mu.Unlock()
}
