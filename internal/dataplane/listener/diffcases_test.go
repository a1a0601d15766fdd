package listener_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http/httpguts"
)

const h = "Host: h\r\n"

// diffCases are byte streams (each on a fresh connection) that both servers must treat
// alike: smuggling shapes, framing and chunked edge cases, heads net/http refuses, the
// request-target forms, Host variants, Expect, HTTP/1.0, keep-alive and close.
var diffCases = []string{
	"GET / HTTP/1.1\r\n" + h + "\r\n",
	"GET /a HTTP/1.1\r\n" + h + "\r\nGET /b HTTP/1.1\r\n" + h + "Connection: close\r\n\r\nGET /c HTTP/1.1\r\n" + h + "\r\n",
	"HEAD /a HTTP/1.1\r\n" + h + "\r\nGET /b HTTP/1.1\r\n" + h + "\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\n\r\nhelloGET /n HTTP/1.1\r\n" + h + "\r\n",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\n\r\nhello\r\nGET /crlf HTTP/1.1\r\n" + h + "\r\n",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 10\r\n\r\nhel",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 300000\r\n\r\n" + strings.Repeat("x", 2000),
	// Chunked bodies.
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /n HTTP/1.1\r\n" + h + "\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3;ext=1;q=\"x\"\r\nabc\r\n00\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n000A\r\n0123456789\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: v\r\nX-U: w\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Trailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: v\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nBad Trailer\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nab",
	// Smuggling shapes: CL and TE, duplicates, variants.
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + h + "\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + h + "\r\n",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 3, 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: +3\r\n\r\nabc",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Content-Length: 0x3\r\n\r\nabc",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:  chunked \r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: identity\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n\tchunked\r\n\r\n0\r\n\r\n",
	// Heads: obs-fold, bare LF and CR, field names and values.
	"GET / HTTP/1.1\r\n" + h + "X-A: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\n" + "Host: h\nX-A: 1\n\n",
	"GET / HTTP/1.1\r\n" + h + "X-A: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\n" + h + "X-A: a\x00b\r\n\r\n",
	"GET / HTTP/1.1\r\n" + h + "X A: 1\r\n\r\n",
	"GET / HTTP/1.1\r\n" + h + ": 1\r\n\r\n",
	"GET / HTTP/1.1\r\n" + h + "X-A 1\r\n\r\n",
	"GET / HTTP/1.1\r\n" + h + "X-A: caf\xc3\xa9\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\n X-A: 1\r\n" + h + "\r\n",
	"GET / HTTP/1.1\r\n" + h + "X-Big: " + strings.Repeat("a", 6000) + "\r\n\r\n",
	// Expect.
	"POST / HTTP/1.1\r\n" + h + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\n" + h + "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\n" + h + "Expect: x\r\nContent-Length: 3\r\n\r\nabc",
	"GET / HTTP/1.1\r\n" + h + "Expect: 100-continue\r\n\r\n",
	// Request-target forms and Host.
	"GET http://h/abs?q HTTP/1.1\r\n" + h + "\r\n",
	"GET http://other/abs HTTP/1.1\r\n" + h + "\r\n",
	"GET http://h/abs HTTP/1.1\r\n\r\n",
	"GET http://h/abs HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET http://h/abs HTTP/1.1\r\nHost:\r\n\r\n",
	"GET http://u@h:8080/abs HTTP/1.1\r\n" + h + "\r\n",
	"GET https://h/abs HTTP/1.0\r\n\r\n",
	"GET http://a%20b/abs HTTP/1.1\r\n" + h + "\r\n",
	"GET http://a%2fb/abs HTTP/1.1\r\n" + h + "\r\n",
	"GET http://caf%C3%A9/abs HTTP/1.1\r\n" + h + "\r\n",
	"GET http://a<b>/abs HTTP/1.1\r\n" + h + "\r\n",
	"CONNECT h:443 HTTP/1.1\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\n" + h + "\r\n",
	"GET * HTTP/1.1\r\n" + h + "\r\n",
	"GET / HTTP/1.1\r\nHost:\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h:80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET /%zz HTTP/1.1\r\n" + h + "\r\n",
	"GET /a#frag HTTP/1.1\r\n" + h + "\r\n",
	"GET x HTTP/1.1\r\n" + h + "\r\n",
	"GET /caf\xc3\xa9 HTTP/1.1\r\n" + h + "\r\n",
	// Request lines.
	"GET  / HTTP/1.1\r\n" + h + "\r\n",
	"get / HTTP/1.1\r\n" + h + "\r\n",
	"GET / HTTP/1.2\r\n" + h + "\r\n",
	"GET / HTTP/2.0\r\n" + h + "\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET /\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\n" + h + "\r\n",
	"GET / HTTP/1.1\r\n" + h,
}

// deliberate lists the differences we keep on purpose, with the reason: a stream that
// matches one may differ from net/http when ours is what the rule expects. (Also
// deliberate, and normalized away rather than listed: no Content-Type sniffing, so the
// handler always sets one; header fields in map order, so raw bytes are compared as
// sorted lines.)
var deliberate = []struct {
	reason string
	// applies reports whether the rule explains the difference: net/http's result, ours.
	applies func(std, ours diffResult) bool
}{{
	reason: "the authority of an absolute-form or CONNECT target must be a valid Host value: " +
		"it is what routing matches (net/http takes what url.ParseRequestURI does, unescaped)",
	applies: func(std, ours diffResult) bool {
		for i, seen := range std.seen {
			_, rest, _ := strings.Cut(seen, " host=")
			host, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return false
			}
			if host, _ = strconv.Unquote(host); !httpguts.ValidHostHeader(host) {
				// We served the requests before it alike, and refused it.
				return slices.Equal(std.seen[:i], ours.seen) && len(ours.resps) == i+1 &&
					strings.Contains(ours.resps[i], `body="400 Bad Request: malformed Host header"`)
			}
		}
		return false
	},
}, {
	reason: "h2c: on a plain port a stream that starts with the HTTP/2 preface (\"PRI * HTTP/2\") is HTTP/2 " +
		"with prior knowledge, as Envoy detects it; net/http (h2c not enabled) reads it as an HTTP/1 request. " +
		"Ours answers with the HTTP/2 server's SETTINGS frame and no handler runs (its framing is held to " +
		"x/net's by package h2's differential tests)",
	applies: func(std, ours diffResult) bool {
		return len(ours.seen) == 0 && (len(std.seen) == 0 || strings.HasPrefix(std.seen[0], "PRI ")) &&
			len(ours.resps) > 0 && strings.HasPrefix(ours.resps[0], "unparsed: ") &&
			strings.Contains(ours.resps[0], `\x00\x00\x00\x04`)
	},
}}

// compare reports a difference between ours and net/http's results that no deliberate
// rule explains.
func compare(t *testing.T, what string, raw []byte, ours, std diffResult) {
	t.Helper()
	diff := cmp.Diff(std.String(), ours.String())
	if diff == "" {
		return
	}
	for _, d := range deliberate {
		if d.applies(std, ours) {
			return
		}
	}
	t.Errorf("%s %q (-net/http +ours):\n%s", what, raw, diff)
}

func TestDifferential(t *testing.T) {
	d := startDiff(t)
	for i, raw := range diffCases {
		for mode := range diffModes {
			ours, std := d.run(t, []byte(raw), 0, mode, false)
			compare(t, fmt.Sprintf("case %d, mode %s:", i, diffModes[mode]), []byte(raw), ours, std)
		}
	}
}

// Every split of each short case over two TLS records (two reads on the server).
func TestDifferentialSplit(t *testing.T) {
	d := startDiff(t)
	stride := 1
	if testing.Short() {
		stride = 7
	}
	for i, raw := range diffCases {
		if len(raw) > 160 {
			continue
		}
		for split := 1; split < len(raw); split += stride {
			ours, std := d.run(t, []byte(raw), split, 0, true)
			compare(t, fmt.Sprintf("case %d, split at %d:", i, split), []byte(raw), ours, std)
			if t.Failed() {
				return
			}
		}
	}
}

// FuzzDifferential: the input is the byte stream, then a split offset and a handler mode.
func FuzzDifferential(f *testing.F) {
	for i, raw := range diffCases {
		f.Add([]byte(raw), uint16(len(raw)/2), uint8(i%len(diffModes)))
	}
	d := startDiff(f)
	f.Fuzz(func(t *testing.T, raw []byte, split uint16, mode uint8) {
		if len(raw) == 0 || len(raw) > 8<<10 {
			return
		}
		useTLS := split%2 == 1
		m := int(mode) % len(diffModes)
		ours, std := d.run(t, raw, int(split)%len(raw), m, useTLS)
		compare(t, fmt.Sprintf("split %d, mode %s, tls %v:", split, diffModes[m], useTLS), raw, ours, std)
	})
}
