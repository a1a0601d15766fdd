package h2

import (
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// maxFuzzSteps bounds a fuzzed sequence (each step costs a PING round trip per server).
const maxFuzzSteps = 40

// FuzzDifferential decodes its input into a frame sequence (decodeSteps) and plays it
// against our server and x/net's (see diff_test.go); any difference keptDiffs does not
// explain fails. Runs are deterministic: no step depends on timing.
func FuzzDifferential(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 0x11, 0x80},                   // a valid GET
		{0, 0x10, 0x83, 0x34, 1, 0, 0x03}, // POST with content-length, then DATA END_STREAM
		{0, 0x11, 0x81, 0x25},             // host ≠ :authority
		{0, 0x11, 0x80, 0, 0x11, 0x80},    // reused stream id
		{0, 0x12, 0x80, 0, 0x11, 0x80},    // lower stream id after a higher one
		{5, 0x21, 3, 0x01},                // SETTINGS INITIAL_WINDOW_SIZE 0 ...
		{5, 0x21, 3, 0x01, 0, 0x11, 0x80, 7, 0, 1},
		{0, 0x51, 0x80, 8, 0, 0x02},    // header block continued
		{1, 0x90, 0, 2, 0, 4, 0x0c, 6}, // padded DATA on an idle stream, RST, ...
	} {
		f.Add(seed)
	}
	var servers sync.WaitGroup
	f.Cleanup(servers.Wait) // once, not after each input: x/net may take a second
	f.Fuzz(func(t *testing.T, in []byte) {
		differential(t, &servers, decodeSteps(in))
	})
}

// Dictionaries the decoder picks from: fields and values that hit the validation rules
// of RFC 9113 8.2-8.3 (pseudo fields, connection-specific fields, host/:authority,
// te, content-length, trailers, invalid names and values).
var (
	fuzzIDs    = []uint32{1, 3, 5, 7, 9, 2, 0, 1 << 20}
	fuzzNames  = []string{":method", ":scheme", ":authority", ":path", ":protocol", ":status", ":x", "host", "content-length", "te", "connection", "trailer", "expect", "cookie", "x-a", "X-Up", "a b", "x-t", "transfer-encoding", "upgrade", "keep-alive", ""}
	fuzzValues = []string{"GET", "POST", "CONNECT", "https", "http", "h2.test", "evil.test", "a b", "a/b", "u@h", "/", "*", "http://e/x", "x", "", "trailers", "gzip", "3", "-1", "abc", "a\nb", "100-continue", "x-t", "h2.test:443", "é"}
	fuzzVals32 = []uint32{0, 1, 3, 100, 16384, 65535, 65536, 1<<31 - 1, 1 << 31, 1<<24 - 1, 1 << 24, 2}
)

// decodeSteps turns fuzz input into steps. Each step starts with a byte whose low
// nibble picks the frame type and whose high nibble holds flags; following bytes pick
// a stream id and operands from the dictionaries. Input that runs out ends the
// sequence; every input decodes to something valid to send.
func decodeSteps(in []byte) []step {
	d := &decoder{in: in}
	var steps []step
	for len(steps) < maxFuzzSteps && d.more() {
		op := d.byte()
		fl := op >> 4
		s := step{id: fuzzIDs[int(d.byte())%len(fuzzIDs)]}
		switch op & 0x0f {
		case 0, 8: // HEADERS (8: CONTINUATION)
			s.kind = http2.FrameHeaders
			if op&0x0f == 8 {
				s.kind = http2.FrameContinuation
			}
			s.end, s.noEndHdr = fl&1 != 0, fl&4 != 0
			if fl&2 != 0 && s.kind == http2.FrameHeaders {
				s.pad = d.byte() % 32
			}
			if fl&8 != 0 && s.kind == http2.FrameHeaders {
				s.prio = &http2.PriorityParam{StreamDep: fuzzIDs[int(d.byte())%len(fuzzIDs)], Weight: d.byte()}
			}
			s.fields = d.fields()
		case 1: // DATA
			s.kind, s.end = http2.FrameData, fl&1 != 0
			s.data = make([]byte, int(d.byte())%64)
			for i := range s.data {
				s.data[i] = 'a' + byte(i%26)
			}
			if fl&2 != 0 {
				s.pad = d.byte() % 32
			}
		case 2:
			s.kind, s.code = http2.FrameRSTStream, http2.ErrCode(d.byte()%16)
		case 3:
			s.kind, s.incr = http2.FrameWindowUpdate, fuzzVals32[int(d.byte())%len(fuzzVals32)]
		case 4:
			s.kind = http2.FramePriority
			s.prio = &http2.PriorityParam{StreamDep: fuzzIDs[int(d.byte())%len(fuzzIDs)], Exclusive: fl&1 != 0, Weight: d.byte()}
		case 5:
			s.kind, s.id, s.ack = http2.FrameSettings, 0, fl&1 != 0
			for n := int(d.byte()) % 4; n > 0 && !s.ack; n-- {
				s.settings = append(s.settings, http2.Setting{ID: http2.SettingID(d.byte() % 10), Val: fuzzVals32[int(d.byte())%len(fuzzVals32)]})
			}
		case 6:
			s.kind, s.id, s.ack = http2.FramePing, 0, fl&1 != 0
			s.data = []byte{d.byte() &^ 0x80, d.byte()} // never syncMark (0xd5) first
		case 7:
			s.kind, s.code = http2.FrameGoAway, http2.ErrCode(d.byte()%16)
		default: // a frame type written raw: unknown, or a known one malformed
			t := []http2.FrameType{0x42, http2.FramePing, http2.FrameSettings, http2.FrameData, http2.FrameWindowUpdate, http2.FramePushPromise, http2.FrameRSTStream}[op&0x0f%7]
			s.rawType, s.flags = &t, http2.Flags(d.byte())
			s.data = make([]byte, int(d.byte())%12)
			for i := range s.data {
				s.data[i] = d.byte()
			}
		}
		steps = append(steps, s)
	}
	return steps
}

type decoder struct {
	in []byte
	i  int
}

func (d *decoder) more() bool { return d.i < len(d.in) }

// byte returns the next input byte, 0 past the end.
func (d *decoder) byte() byte {
	if d.i >= len(d.in) {
		return 0
	}
	d.i++
	return d.in[d.i-1]
}

// fields: a byte whose top bit asks for a valid request's pseudo fields first and
// whose low bits count extra fields, each a name byte and a value byte.
func (d *decoder) fields() []string {
	b := d.byte()
	var kv []string
	if b&0x80 != 0 {
		kv = append(kv, ":method", "GET", ":scheme", "https", ":authority", "h2.test", ":path", "/")
	}
	for n := int(b & 0x07); n > 0; n-- {
		kv = append(kv, fuzzNames[int(d.byte())%len(fuzzNames)], fuzzValues[int(d.byte())%len(fuzzValues)])
	}
	if b&0x40 != 0 && len(kv) >= 2 { // override the method with the value of the next byte
		kv[1] = fuzzValues[int(d.byte())%len(fuzzValues)]
	}
	return kv
}
