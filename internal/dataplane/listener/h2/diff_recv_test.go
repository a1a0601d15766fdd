package h2

import (
	"fmt"

	"golang.org/x/net/http2"
)

// What the differential client takes from the server's frames (diff_client_test.go).

// event is a frame of the server, copied out of the reader: a Framer's frame is valid
// only until its next ReadFrame.
type event struct {
	typ     http2.FrameType
	id      uint32
	flags   http2.Flags
	length  uint32
	code    http2.ErrCode
	last    uint32  // GOAWAY
	ping    [8]byte // PING
	data    []byte  // DATA
	headers string  // HEADERS, normalized (responseHeaders)
	final   bool    // HEADERS with a final status
}

func copyFrame(f http2.Frame) event {
	h := f.Header()
	ev := event{typ: h.Type, id: h.StreamID, flags: h.Flags, length: h.Length}
	switch f := f.(type) {
	case *http2.DataFrame:
		ev.data = append([]byte(nil), f.Data()...)
	case *http2.GoAwayFrame:
		ev.code, ev.last = f.ErrCode, f.LastStreamID
	case *http2.RSTStreamFrame:
		ev.code = f.ErrCode
	case *http2.PingFrame:
		ev.ping = f.Data
	case *http2.MetaHeadersFrame:
		ev.headers = responseHeaders(f)
		ev.final = f.PseudoValue("status") >= "200"
	}
	return ev
}

// note records a frame of the server in the outcome.
func (c *diffClient) note(f event) {
	id := f.id
	s := c.stream(id)
	switch f.typ {
	case http2.FrameSettings:
		if f.flags.Has(http2.FlagSettingsAck) {
			c.out.SettingsAcks++
		}
	case http2.FramePing:
		switch {
		case !f.flags.Has(http2.FlagPingAck):
		case f.ping[0] == syncMark:
			c.syncAcked = f.ping
		default:
			c.out.Pings = append(c.out.Pings, fmt.Sprintf("%x", f.ping))
		}
	case http2.FrameGoAway:
		c.out.GoAway = append(c.out.GoAway, f.code.String())
		c.goAwaySeen, c.goAwayLast = true, f.last
		c.failed = c.failed || f.code != http2.ErrCodeNo
	case http2.FrameRSTStream:
		c.out.Streams[id] = append(c.out.Streams[id], "RST "+f.code.String())
		s.done = true
	case http2.FrameHeaders:
		c.out.Streams[id] = append(c.out.Streams[id], f.headers)
		s.headers = s.headers || f.final
		if f.flags.Has(http2.FlagHeadersEndStream) {
			s.endedByServer()
		}
	case http2.FrameData:
		ev := fmt.Sprintf("DATA %q", f.data)
		if f.flags.Has(http2.FlagDataEndStream) {
			ev += " END"
			s.endedByServer()
		}
		c.out.Streams[id] = append(c.out.Streams[id], ev)
		s.gotData += int64(f.length)
		c.connWin -= int64(f.length)
	}
}

// endedByServer: the response is complete. If the client is still sending, both
// servers then reset the stream with NO_ERROR (RFC 9113 8.1), x/net once that write is
// done: the stream is done only with that RST_STREAM, which decides how either server
// takes the client's next frame on it.
func (s *clientStream) endedByServer() {
	if s.ended {
		s.done = true
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
