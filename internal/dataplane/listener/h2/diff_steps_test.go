package h2

import (
	"fmt"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// step is one frame the differential client sends. Header fields are HPACK-encoded
// when sent, with the connection's encoder, so both servers see the same bytes.
type step struct {
	kind     http2.FrameType
	id       uint32
	end      bool     // END_STREAM (HEADERS, DATA)
	noEndHdr bool     // HEADERS/CONTINUATION without END_HEADERS
	fields   []string // HEADERS/CONTINUATION: name, value, ...
	data     []byte   // DATA; PING payload; raw payload
	pad      uint8    // DATA/HEADERS padding
	prio     *http2.PriorityParam
	code     http2.ErrCode // RST_STREAM, GOAWAY
	incr     uint32        // WINDOW_UPDATE
	settings []http2.Setting
	ack      bool             // SETTINGS, PING
	flags    http2.Flags      // raw frames (unknown types)
	rawType  *http2.FrameType // a frame written as given, unchecked
}

func (s step) String() string {
	var b strings.Builder
	if s.rawType != nil {
		fmt.Fprintf(&b, "RAW(%d) flags=%#x", *s.rawType, s.flags)
	} else {
		b.WriteString(s.kind.String())
	}
	fmt.Fprintf(&b, " id=%d", s.id)
	if s.end {
		b.WriteString(" END_STREAM")
	}
	if s.noEndHdr {
		b.WriteString(" !END_HEADERS")
	}
	if s.fields != nil {
		fmt.Fprintf(&b, " %q", s.fields)
	}
	if len(s.data) > 0 {
		fmt.Fprintf(&b, " data=%dB", len(s.data))
	}
	if s.pad > 0 {
		fmt.Fprintf(&b, " pad=%d", s.pad)
	}
	if s.prio != nil {
		fmt.Fprintf(&b, " prio=%+v", *s.prio)
	}
	switch s.kind {
	case http2.FrameRSTStream, http2.FrameGoAway:
		fmt.Fprintf(&b, " %v", s.code)
	case http2.FrameWindowUpdate:
		fmt.Fprintf(&b, " +%d", s.incr)
	case http2.FrameSettings:
		fmt.Fprintf(&b, " ack=%v %v", s.ack, s.settings)
	}
	return b.String()
}

// send writes the step and notes what the client sent; false if the write failed or
// the connection did. The client's state and the HPACK encoding are updated here,
// the write itself runs on write's goroutine.
func (c *diffClient) send(s step) bool {
	return c.write(c.prepare(s))
}

func (c *diffClient) prepare(s step) func() error {
	fr := c.fr
	c.open = false // any frame but CONTINUATION ends (or breaks) an open header block
	switch {
	case s.rawType != nil:
		if *s.rawType == http2.FrameData && s.flags.Has(http2.FlagDataEndStream) {
			c.stream(s.id).ended = true // if well-formed; else the server fails it
		}
		return func() error { return fr.WriteRawFrame(*s.rawType, s.flags, s.id, s.data) }
	case s.kind == http2.FrameHeaders:
		p := http2.HeadersFrameParam{StreamID: s.id, BlockFragment: c.block(s.fields),
			EndStream: s.end, EndHeaders: !s.noEndHdr, PadLength: s.pad}
		if s.prio != nil {
			p.Priority = *s.prio
		}
		cs := c.stream(s.id)
		if cs.done {
			// A HEADERS on a stream that is over: a new request to the client, which
			// waits for its answer. The server may take it as one (the stream was reset at
			// the frame level before it opened: a bad WINDOW_UPDATE, malformed fields),
			// or fail the connection; either ends the wait.
			*cs = clientStream{}
		}
		if cs.fields == nil {
			cs.fields = append([]string{}, s.fields...)
		}
		cs.ended = cs.ended || s.end
		c.open = s.noEndHdr
		return func() error { return fr.WriteHeaders(p) }
	case s.kind == http2.FrameContinuation:
		block := c.block(s.fields)
		cs := c.stream(s.id)
		cs.fields = append(cs.fields, s.fields...)
		c.open = s.noEndHdr
		return func() error { return fr.WriteContinuation(s.id, !s.noEndHdr, block) }
	case s.kind == http2.FrameData:
		cs := c.stream(s.id)
		cs.bodySent += len(s.data)
		cs.ended = cs.ended || s.end
		if s.pad > 0 {
			return func() error { return fr.WriteDataPadded(s.id, s.end, s.data, make([]byte, s.pad)) }
		}
		return func() error { return fr.WriteData(s.id, s.end, s.data) }
	case s.kind == http2.FramePriority:
		return func() error { return fr.WritePriority(s.id, *s.prio) }
	case s.kind == http2.FrameRSTStream:
		c.stream(s.id).done = true // no answer to wait for
		return func() error { return fr.WriteRSTStream(s.id, s.code) }
	case s.kind == http2.FrameSettings && s.ack:
		return fr.WriteSettingsAck
	case s.kind == http2.FrameSettings:
		for _, st := range s.settings {
			if st.ID == http2.SettingInitialWindowSize {
				c.initWin = int64(st.Val)
			}
		}
		return func() error { return fr.WriteSettings(s.settings...) }
	case s.kind == http2.FramePing:
		var d [8]byte
		copy(d[:], s.data)
		return func() error { return fr.WritePing(s.ack, d) }
	case s.kind == http2.FrameGoAway:
		return func() error { return fr.WriteGoAway(s.id, s.code, nil) }
	case s.kind == http2.FrameWindowUpdate:
		if s.id == 0 {
			c.connWin += int64(s.incr)
		} else {
			c.stream(s.id).win += int64(s.incr)
		}
		return func() error { return fr.WriteWindowUpdate(s.id, s.incr) }
	}
	panic("step kind " + s.kind.String())
}

func (c *diffClient) block(kv []string) []byte {
	c.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), c.hbuf.Bytes()...)
}
