package h2

import (
	"fmt"
	"strings"
	"time"

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
		fmt.Fprintf(&b, "RAW(%d)", *s.rawType)
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

// send writes the step and notes what the client sent; false if the write failed (the
// server closed the connection).
func (c *diffClient) send(s step) bool {
	_ = c.nc.SetWriteDeadline(time.Now().Add(syncTimeout))
	c.open = false // any frame but CONTINUATION ends (or breaks) an open header block
	var err error
	switch {
	case s.rawType != nil:
		err = c.fr.WriteRawFrame(*s.rawType, s.flags, s.id, s.data)
	case s.kind == http2.FrameHeaders:
		p := http2.HeadersFrameParam{StreamID: s.id, BlockFragment: c.block(s.fields),
			EndStream: s.end, EndHeaders: !s.noEndHdr, PadLength: s.pad}
		if s.prio != nil {
			p.Priority = *s.prio
		}
		err = c.fr.WriteHeaders(p)
		cs := c.stream(s.id)
		if cs.fields == nil {
			cs.fields = append([]string{}, s.fields...)
		}
		cs.ended = cs.ended || s.end
		c.open = s.noEndHdr
	case s.kind == http2.FrameContinuation:
		err = c.fr.WriteContinuation(s.id, !s.noEndHdr, c.block(s.fields))
		cs := c.stream(s.id)
		cs.fields = append(cs.fields, s.fields...)
		c.open = s.noEndHdr
	case s.kind == http2.FrameData:
		if s.pad > 0 {
			err = c.fr.WriteDataPadded(s.id, s.end, s.data, make([]byte, s.pad))
		} else {
			err = c.fr.WriteData(s.id, s.end, s.data)
		}
		cs := c.stream(s.id)
		cs.bodySent += len(s.data)
		cs.ended = cs.ended || s.end
	case s.kind == http2.FramePriority:
		err = c.fr.WritePriority(s.id, *s.prio)
	case s.kind == http2.FrameRSTStream:
		err = c.fr.WriteRSTStream(s.id, s.code)
		c.stream(s.id).done = true // no answer to wait for
	case s.kind == http2.FrameSettings && s.ack:
		err = c.fr.WriteSettingsAck()
	case s.kind == http2.FrameSettings:
		err = c.fr.WriteSettings(s.settings...)
		for _, st := range s.settings {
			if st.ID == http2.SettingInitialWindowSize {
				c.initWin = int64(st.Val)
			}
		}
	case s.kind == http2.FramePing:
		var d [8]byte
		copy(d[:], s.data)
		err = c.fr.WritePing(s.ack, d)
	case s.kind == http2.FrameGoAway:
		err = c.fr.WriteGoAway(s.id, s.code, nil)
	case s.kind == http2.FrameWindowUpdate:
		err = c.fr.WriteWindowUpdate(s.id, s.incr)
		if s.id == 0 {
			c.connWin += int64(s.incr)
		} else {
			c.stream(s.id).win += int64(s.incr)
		}
	default:
		panic("step kind " + s.kind.String())
	}
	return err == nil
}

func (c *diffClient) block(kv []string) []byte {
	c.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), c.hbuf.Bytes()...)
}
