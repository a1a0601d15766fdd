package h2

import (
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

func req(extra ...string) []string {
	return append([]string{":method", "GET", ":scheme", "https", ":authority", "h2.test", ":path", "/"}, extra...)
}

func hdr(id uint32, end bool, fields ...string) step {
	return step{kind: http2.FrameHeaders, id: id, end: end, fields: fields}
}

func data(id uint32, end bool, b string) step {
	return step{kind: http2.FrameData, id: id, end: end, data: []byte(b)}
}

func settings(ss ...http2.Setting) step { return step{kind: http2.FrameSettings, settings: ss} }

func rst(id uint32, code http2.ErrCode) step {
	return step{kind: http2.FrameRSTStream, id: id, code: code}
}

func wu(id, n uint32) step { return step{kind: http2.FrameWindowUpdate, id: id, incr: n} }

var unknownType = http2.FrameType(0x42)

// diffCases cover the areas of RFC 9113 where servers differ most: header validation,
// stream states, flow control, SETTINGS, RST_STREAM/GOAWAY, CONTINUATION, PRIORITY
// and padding. Each is played against both servers (TestDifferential).
var diffCases = []struct {
	name  string
	steps []step
}{
	// Header validation.
	{"valid GET", []step{hdr(1, true, req()...)}},
	{"POST with body and declared length", []step{hdr(1, false, req(":method", "POST", "content-length", "3")...), data(1, true, "abc")}},
	{"missing :path", []step{hdr(1, true, ":method", "GET", ":scheme", "https", ":authority", "h2.test")}},
	{"missing :method", []step{hdr(1, true, ":scheme", "https", ":path", "/")}},
	{"bad :scheme", []step{hdr(1, true, ":method", "GET", ":scheme", "ftp", ":path", "/")}},
	{"duplicate pseudo", []step{hdr(1, true, req(":path", "/x")...)}},
	{"pseudo after regular", []step{hdr(1, true, ":method", "GET", "x-a", "1", ":scheme", "https", ":path", "/")}},
	{"unknown pseudo", []step{hdr(1, true, req(":foo", "1")...)}},
	{":status in a request", []step{hdr(1, true, req(":status", "200")...)}},
	{":status alone", []step{hdr(1, true, ":status", "200")}},
	{":protocol", []step{hdr(1, true, req(":protocol", "websocket")...)}},
	{":protocol empty", []step{hdr(1, true, req(":protocol", "")...)}},
	{"upper-case name", []step{hdr(1, true, req("X-Upper", "1")...)}},
	{"invalid name", []step{hdr(1, true, req("a b", "1")...)}},
	{"invalid value", []step{hdr(1, true, req("x-a", "a\nb")...)}},
	{"connection field", []step{hdr(1, true, req("connection", "close")...)}},
	{"keep-alive field", []step{hdr(1, true, req("keep-alive", "1")...)}},
	{"te gzip", []step{hdr(1, true, req("te", "gzip")...)}},
	{"te trailers", []step{hdr(1, true, req("te", "trailers")...)}},
	{"te empty", []step{hdr(1, true, req("te", "")...)}},
	{"two te", []step{hdr(1, true, req("te", "trailers", "te", "trailers")...)}},
	{"host equal to :authority", []step{hdr(1, true, req("host", "h2.test")...)}},
	{"host differs from :authority", []step{hdr(1, true, req("host", "evil.test")...)}},
	{"host without :authority", []step{hdr(1, true, ":method", "GET", ":scheme", "https", ":path", "/", "host", "h2.test")}},
	{"two host fields", []step{hdr(1, true, ":method", "GET", ":scheme", "https", ":path", "/", "host", "a", "host", "a")}},
	{":authority with space", []step{hdr(1, true, ":method", "GET", ":scheme", "https", ":authority", "a b", ":path", "/")}},
	{":authority with slash", []step{hdr(1, true, ":method", "GET", ":scheme", "https", ":authority", "a/b", ":path", "/")}},
	{":authority with userinfo", []step{hdr(1, true, ":method", "GET", ":scheme", "https", ":authority", "u@h", ":path", "/")}},
	{":path absolute", []step{hdr(1, true, ":method", "GET", ":scheme", "https", ":authority", "h", ":path", "http://evil.test/x")}},
	{":path *", []step{hdr(1, true, ":method", "OPTIONS", ":scheme", "https", ":authority", "h", ":path", "*")}},
	{"CONNECT", []step{hdr(1, true, ":method", "CONNECT", ":authority", "h2.test:443")}},
	{"CONNECT with :path", []step{hdr(1, true, ":method", "CONNECT", ":authority", "h:1", ":path", "/")}},
	{"cookies joined", []step{hdr(1, true, req("cookie", "a=1", "cookie", "b=2")...)}},
	{"expect 100-continue", []step{hdr(1, false, req(":method", "PUT", "expect", "100-continue")...), data(1, true, "x")}},
	// Trailers.
	{"declared trailers", []step{hdr(1, false, req("trailer", "x-t")...), data(1, false, "a"), hdr(1, true, "x-t", "1", "x-u", "2")}},
	{"undeclared trailers", []step{hdr(1, false, req()...), hdr(1, true, "x-t", "1")}},
	{"invalid trailer name", []step{hdr(1, false, req("trailer", "x-t")...), hdr(1, true, "content-length", "1")}},
	{"trailers without END_STREAM", []step{hdr(1, false, req()...), hdr(1, false, "x-t", "1")}},
	{"trailers with pseudo", []step{hdr(1, false, req()...), hdr(1, true, ":path", "/")}},
	// Stream states.
	{"even stream id", []step{hdr(2, true, req()...)}},
	{"reused stream id", []step{hdr(1, true, req()...), hdr(1, true, req()...)}},
	{"lower stream id", []step{hdr(5, true, req()...), hdr(3, true, req()...)}},
	{"HEADERS on half-closed stream", []step{hdr(1, false, req()...), data(1, true, ""), hdr(1, true, req()...)}},
	{"DATA on idle stream", []step{data(3, true, "x")}},
	{"DATA on stream 0", []step{data(0, true, "x")}},
	{"DATA after END_STREAM", []step{hdr(1, true, req()...), data(1, true, "x")}},
	{"DATA after RST_STREAM", []step{hdr(1, false, req()...), rst(1, http2.ErrCodeCancel), data(1, true, "x")}},
	{"RST_STREAM on idle", []step{rst(1, http2.ErrCodeCancel)}},
	{"RST_STREAM on stream 0", []step{rst(0, http2.ErrCodeCancel)}},
	{"WINDOW_UPDATE on idle", []step{wu(1, 1)}},
	{"WINDOW_UPDATE on an even id below the highest", []step{hdr(5, true, req()...), wu(2, 1)}},
	{"RST_STREAM on an even id below the highest", []step{hdr(5, true, req()...), rst(2, http2.ErrCodeCancel)}},
	{"DATA on an even id below the highest", []step{hdr(5, true, req()...), data(2, true, "x")}},
	{"WINDOW_UPDATE on closed", []step{hdr(1, true, req()...), wu(1, 1)}},
	{"too much body for content-length", []step{hdr(1, false, req("content-length", "1")...), data(1, true, "ab")}},
	// Flow control.
	{"zero window then update", []step{settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}), hdr(1, true, req()...), wu(1, 1), wu(1, 10)}},
	{"one-byte window", []step{settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1}), hdr(1, true, req()...)}},
	{"connection window overflow", []step{wu(0, 1<<31-1)}},
	{"stream window overflow", []step{hdr(1, false, req()...), wu(1, 1<<31-1)}},
	{"zero increment on stream", []step{hdr(1, false, req()...), wu(1, 0)}},
	{"zero increment on connection", []step{wu(0, 0)}},
	{"initial window overflow", []step{hdr(1, false, req()...), wu(1, 1<<31-65536), settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65536})}},
	// SETTINGS.
	{"SETTINGS ACK unexpected", []step{{kind: http2.FrameSettings, ack: true}}},
	{"SETTINGS bad ENABLE_PUSH", []step{settings(http2.Setting{ID: http2.SettingEnablePush, Val: 2})}},
	{"SETTINGS bad MAX_FRAME_SIZE", []step{settings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 100})}},
	{"SETTINGS initial window too large", []step{settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})}},
	{"SETTINGS unknown id", []step{settings(http2.Setting{ID: 0x77, Val: 1})}},
	{"SETTINGS NO_RFC7540_PRIORITIES 2", []step{settings(http2.Setting{ID: http2.SettingNoRFC7540Priorities, Val: 2})}},
	{"SETTINGS on a stream", []step{{rawType: &[]http2.FrameType{http2.FrameSettings}[0], id: 1}}},
	{"SETTINGS bad length", []step{{rawType: &[]http2.FrameType{http2.FrameSettings}[0], data: []byte{0, 1, 0}}}},
	// PING, GOAWAY, RST_STREAM, unknown frames.
	{"PING", []step{{kind: http2.FramePing, data: []byte("12345678")}}},
	{"PING ACK ignored", []step{{kind: http2.FramePing, ack: true, data: []byte("12345678")}}},
	{"PING on a stream", []step{{rawType: &[]http2.FrameType{http2.FramePing}[0], id: 1, data: make([]byte, 8)}}},
	{"even stream id after GOAWAY", []step{hdr(1, false, req()...), {kind: http2.FrameGoAway, code: http2.ErrCodeNo}, hdr(4, true, req()...), hdr(1, true, "x-t", "1")}},
	{"client GOAWAY", []step{hdr(1, false, req()...), {kind: http2.FrameGoAway, code: http2.ErrCodeNo}, data(1, true, "x")}},
	{"RST_STREAM cancels", []step{hdr(1, false, req()...), rst(1, http2.ErrCodeCancel), hdr(3, true, req()...)}},
	{"unknown frame", []step{{rawType: &unknownType, id: 1, data: []byte("??")}, hdr(1, true, req()...)}},
	{"PUSH_PROMISE", []step{{rawType: &[]http2.FrameType{http2.FramePushPromise}[0], id: 1, flags: http2.FlagPushPromiseEndHeaders, data: []byte{0, 0, 0, 2}}}},
	// CONTINUATION.
	{"CONTINUATION", []step{{kind: http2.FrameHeaders, id: 1, end: true, noEndHdr: true, fields: req()[:4]}, {kind: http2.FrameContinuation, id: 1, fields: req()[4:]}}},
	{"CONTINUATION after an invalid field", []step{{kind: http2.FrameHeaders, id: 1, end: true, noEndHdr: true, fields: req("X-Bad", "1")}, {kind: http2.FrameContinuation, id: 1, fields: []string{"x-a", "1"}}}},
	{"stray CONTINUATION", []step{{kind: http2.FrameContinuation, id: 1, fields: req()}}},
	{"interleaved frame in header block", []step{{kind: http2.FrameHeaders, id: 1, end: true, noEndHdr: true, fields: req()[:4]}, data(1, true, "x")}},
	{"CONTINUATION on another stream", []step{{kind: http2.FrameHeaders, id: 1, end: true, noEndHdr: true, fields: req()[:4]}, {kind: http2.FrameContinuation, id: 3, fields: req()[4:]}}},
	// PRIORITY.
	{"PRIORITY", []step{{kind: http2.FramePriority, id: 3, prio: &http2.PriorityParam{StreamDep: 1, Weight: 9}}, hdr(1, true, req()...)}},
	{"PRIORITY on itself", []step{{kind: http2.FramePriority, id: 3, prio: &http2.PriorityParam{StreamDep: 3}}}},
	{"HEADERS depending on itself", []step{{kind: http2.FrameHeaders, id: 1, end: true, fields: req(), prio: &http2.PriorityParam{StreamDep: 1}}}},
	// Padding.
	{"padded DATA", []step{hdr(1, false, req()...), {kind: http2.FrameData, id: 1, end: true, data: []byte("abc"), pad: 10}}},
	{"padded HEADERS", []step{{kind: http2.FrameHeaders, id: 1, end: true, fields: req(), pad: 7}}},
	{"padding longer than payload", []step{hdr(1, false, req()...), {rawType: &[]http2.FrameType{http2.FrameData}[0], id: 1, flags: http2.FlagDataPadded, data: []byte{5, 'a'}}}},
}

// TestDifferential plays each case against our server and x/net's and compares.
func TestDifferential(t *testing.T) {
	var servers sync.WaitGroup
	t.Cleanup(servers.Wait) // after the parallel subtests
	for _, tc := range diffCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			differential(t, &servers, tc.steps)
		})
	}
}
