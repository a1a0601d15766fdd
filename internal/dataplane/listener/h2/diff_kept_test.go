package h2

import (
	"strconv"
	"strings"

	"golang.org/x/net/http2"
)

// keptDiffs are the differences from x/net we keep on purpose (design 0010). Those of
// the connection (input) stop the comparison at the step where the servers part ways;
// those of a stream (stream) excuse that stream's transcript. Each is narrow: the
// frame or request that triggers it, and our answer.
var keptDiffs = []struct {
	name, why string
	input     func(s step) bool
	stream    func(sent *clientStream, ours, theirs []string) bool
}{
	{
		name:  "repeated SETTINGS identifier",
		why:   "RFC 9113 6.5.3 has the values processed in order (h2spec 6.5.3/1); x/net fails the connection",
		input: func(s step) bool { return s.kind == http2.FrameSettings && !s.ack && hasDuplicateSetting(s.settings) },
	},
	{
		name: "frame payload over 16 KiB",
		why:  "we advertise the default SETTINGS_MAX_FRAME_SIZE (h2spec 4.2/3, smaller read buffers); x/net 1 MiB",
		input: func(s step) bool {
			return len(s.data)+int(s.pad) > maxReadFrameSize || len(strings.Join(s.fields, "")) > maxReadFrameSize/2
		},
	},
	{
		name: "content-length not a number, with a body",
		why:  "a malformed request (RFC 9113 8.1.1) is reset; x/net serves it as length 0",
		stream: func(sent *clientStream, ours, theirs []string) bool {
			cl, ok := field(sent.fields, "content-length")
			_, err := strconv.ParseUint(cl, 10, 63)
			return ok && err != nil && refusedHere(ours, theirs)
		},
	},
	{
		name: "body shorter than content-length",
		why:  "a malformed request (RFC 9113 8.1.1) is reset; x/net serves it with a body read error",
		stream: func(sent *clientStream, ours, theirs []string) bool {
			cl, ok := field(sent.fields, "content-length")
			n, err := strconv.ParseUint(cl, 10, 63)
			return ok && err == nil && sent.ended && uint64(sent.bodySent) < n && refusedHere(ours, theirs)
		},
	},
	// Listed without a predicate: the fuzzer's sequences (at most maxFuzzSteps frames of
	// at most 64 bytes) cannot reach them; protocol_test.go covers them.
	{name: "over 100 empty DATA frames in a row", why: "CVE-2019-9518 flood: we answer ENHANCE_YOUR_CALM"},
	{name: "CONTINUATION frames beyond 16 + limit/1 KiB", why: "CVE-2024-27316 flood: we answer ENHANCE_YOUR_CALM"},
	{name: "connection receive window exceeded", why: "RFC 9113 6.9.1 MUST: connection error FLOW_CONTROL_ERROR; x/net resets the stream"},
	{name: "trailers over the header list limit", why: "we reset the stream; x/net keeps the fields that fit"},
	{name: "streams beyond MaxConcurrentStreams", why: "REFUSED_STREAM (safe to retry); x/net PROTOCOL_ERROR once its SETTINGS are acknowledged"},
}

func hasDuplicateSetting(ss []http2.Setting) bool {
	seen := map[http2.SettingID]bool{}
	for _, s := range ss {
		if seen[s.ID] {
			return true
		}
		seen[s.ID] = true
	}
	return false
}

// field returns the first value of a request field named name.
func field(kv []string, name string) (string, bool) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == name {
			return kv[i+1], true
		}
	}
	return "", false
}

// refusedHere: our transcript is x/net's up to a last event, our refusal (the
// comparison stops at the step that refused it: cutAtKept); what went before on the
// stream id (a PRIORITY reset, say) must match.
func refusedHere(ours, theirs []string) bool {
	n := len(ours)
	return n > 0 && ours[n-1] == "REFUSED" && len(theirs) >= n-1 && equalEvents(ours[:n-1], theirs[:n-1])
}

// cutAtKept returns how many steps to compare: up to the first where a kept
// difference of the connection applies, or up to and including one where a request is
// refused by us and served by x/net (the stream kept differences): from there the
// servers disagree on whether the stream is open, so on how its next frames are taken.
func cutAtKept(steps []step) int {
	type sent struct {
		fields []string
		body   int
		open   bool
	}
	streams := map[uint32]*sent{}
	for i, s := range steps {
		for _, k := range keptDiffs {
			if k.input != nil && k.input(s) {
				return i
			}
		}
		st := streams[s.id]
		switch {
		case s.rawType != nil:
			continue
		case s.kind == http2.FrameHeaders && (st == nil || !st.open):
			st = &sent{fields: s.fields, open: !s.end}
			streams[s.id] = st
			cl, ok := field(s.fields, "content-length")
			if _, err := strconv.ParseUint(cl, 10, 63); ok && err != nil && !s.end {
				return i + 1
			}
			continue
		case st == nil || !st.open:
			continue
		case s.kind == http2.FrameData:
			st.body += len(s.data)
		case s.kind == http2.FrameHeaders: // trailers
		default:
			continue
		}
		if s.end {
			st.open = false
			cl, ok := field(st.fields, "content-length")
			if n, err := strconv.ParseUint(cl, 10, 63); ok && err == nil && uint64(st.body) < n {
				return i + 1
			}
		}
	}
	return len(steps)
}

// explainStreams makes the stream transcripts that a kept difference explains equal.
func explainStreams(ours, theirs *outcome, sent map[uint32]*clientStream) {
	for id, s := range sent {
		if equalEvents(ours.Streams[id], theirs.Streams[id]) {
			continue
		}
		for _, k := range keptDiffs {
			if k.stream != nil && k.stream(s, ours.Streams[id], theirs.Streams[id]) {
				if evs, ok := theirs.Streams[id]; ok {
					ours.Streams[id] = evs
				} else {
					delete(ours.Streams, id)
				}
				break
			}
		}
	}
}

func equalEvents(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// answersAtOnce reports a request that x/net answers (400) without waiting for its
// body: connection-specific fields or a te other than "trailers" (we reset it).
func answersAtOnce(fields []string) bool {
	tes := 0
	for i := 0; i+1 < len(fields); i += 2 {
		switch fields[i] {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			return true
		case "te":
			if tes++; tes > 1 || (fields[i+1] != "trailers" && fields[i+1] != "") {
				return true
			}
		}
	}
	return false
}
