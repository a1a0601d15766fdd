package upstream

import (
	"strconv"
	"strings"
	"testing"
)

const (
	okResp     = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nmine"
	attackResp = "HTTP/1.1 200 OK\r\nSet-Cookie: session=attacker\r\nContent-Length: 8\r\n\r\nattacker"
	hints      = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
)

func getStep(resp string) exchangeStep  { return exchangeStep{"GET", step{Resp: resp}} }
func headStep(resp string) exchangeStep { return exchangeStep{"HEAD", step{Resp: resp}} }

func withLate(s exchangeStep, late string) exchangeStep { s.Late = late; return s }
func withEnd(s exchangeStep, e ending) exchangeStep     { s.End = e; return s }

// TestLeanMatchesTransport: scripted sequences on one pooled connection give the same
// results through the lean client as through ReverseProxy over http.Transport.
func TestLeanMatchesTransport(t *testing.T) {
	big := strconv.Itoa(12<<20) + "\r\n\r\n" + strings.Repeat("z", 12<<20)
	for _, tc := range []struct {
		name   string
		script []exchangeStep
	}{
		{"reuse", []exchangeStep{getStep(okResp), headStep(okResp[:len(okResp)-4]), getStep(okResp)}},
		{"late body after HEAD", []exchangeStep{withLate(headStep("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"), attackResp), getStep(okResp)}},
		{"late body after 204", []exchangeStep{withLate(getStep("HTTP/1.1 204 No Content\r\n\r\n"), attackResp), getStep(okResp)}},
		{"late body after 304", []exchangeStep{withLate(getStep("HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\n\r\n"), attackResp), getStep(okResp)}},
		{"body with a HEAD response", []exchangeStep{headStep("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nattacker"), getStep(okResp)}},
		{"more than Content-Length", []exchangeStep{getStep("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + attackResp), getStep(okResp)}},
		{"more than Content-Length, late", []exchangeStep{withLate(getStep("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), "x"), getStep(okResp)}},
		{"12 MiB body", []exchangeStep{getStep("HTTP/1.1 200 OK\r\nContent-Length: " + big), getStep(okResp)}},
		{"12 MiB body after HEAD", []exchangeStep{headStep("HTTP/1.1 200 OK\r\nContent-Length: " + big[:len(big)-12<<20]), getStep("HTTP/1.1 200 OK\r\nContent-Length: " + big)}},
		{"malformed heads", []exchangeStep{getStep("HTTP/1.1 200 OK\r\nContent-Length: -0\r\n\r\n"), getStep("HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"),
			getStep("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"), getStep("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"),
			getStep("HTTP/1.1 200 OK\nContent-Length: 2\n\nok"), getStep("HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok"),
			getStep("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok"), getStep("HTTP/1.1 20x OK\r\n\r\n"), getStep("HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 5000) + "\r\nContent-Length: 2\r\n\r\nok"), getStep(okResp)}},
		{"1xx", []exchangeStep{getStep(hints + okResp), getStep(hints + hints + hints + okResp), getStep(okResp)}},
		{"101 without upgrade", []exchangeStep{getStep("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"), getStep(okResp)}},
		{"reset instead of an answer", []exchangeStep{withEnd(getStep(""), resetConn), getStep(okResp)}},
		{"closed instead of an answer", []exchangeStep{withEnd(getStep(""), closeConn), getStep(okResp)}},
		{"closed mid-head on a reused connection", []exchangeStep{getStep(okResp), withEnd(getStep("HTTP/1.1 2"), closeConn), getStep(okResp)}},
		{"closed after answering", []exchangeStep{withEnd(getStep(okResp), closeConn), getStep(okResp)}},
		{"short body", []exchangeStep{getStep("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok"), getStep(okResp)}},
		{"close-delimited", []exchangeStep{getStep("HTTP/1.1 200 OK\r\n\r\nuntil close"), getStep(okResp)}},
		{"http/1.0 keep-alive", []exchangeStep{getStep("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"), getStep(okResp)}},
		{"http/1.0", []exchangeStep{getStep("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), getStep(okResp)}},
		{"connection close", []exchangeStep{getStep("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"), getStep(okResp)}},
		{"chunked", []exchangeStep{getStep("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), getStep(okResp)}},
		{"chunked, late bytes", []exchangeStep{withLate(getStep("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), attackResp), getStep(okResp)}},
		{"event stream", []exchangeStep{getStep("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 7\r\n\r\ndata:1\n"), getStep(okResp)}},
	} {
		t.Run(tc.name, func(t *testing.T) { compareClients(t, tc.script) })
	}
}

// Programs for FuzzLeanVsTransport: each step is four bytes (see decodeScript).
var (
	fuzzStatuses = []string{"200 OK", "204 No Content", "304 Not Modified", "404 Not Found", "500 Internal Server Error", "101 Switching Protocols"}
	fuzzFraming  = []func(n int) string{
		func(n int) string { return "Content-Length: " + strconv.Itoa(n) },
		func(n int) string { return "Content-Length: " + strconv.Itoa(n/2) }, // more than Content-Length
		func(n int) string { return "Content-Length: " + strconv.Itoa(n+3) }, // short body
		func(n int) string { return "" },                                     // close-delimited
		func(n int) string { return "Content-Length: -" + strconv.Itoa(n) },
		func(n int) string { return "Content-Length: +" + strconv.Itoa(n) },
		func(n int) string { return "Content-Length: 00" + strconv.Itoa(n) },
		func(n int) string {
			return "Content-Length: " + strconv.Itoa(n) + "\r\nContent-Length: " + strconv.Itoa(n)
		},
		func(n int) string { return "Content-Length: " + strconv.Itoa(n) + ", " + strconv.Itoa(n) },
		func(n int) string { return "Content-Length: " + strconv.Itoa(n) + "\r\nConnection: close" },
		func(n int) string { return "Content-Length: " + strconv.Itoa(n) + "\r\nConnection: keep-alive" },
		func(n int) string { return "Transfer-Encoding: chunked\r\nContent-Length: " + strconv.Itoa(n) },
		func(n int) string {
			return "Content-Length: " + strconv.Itoa(n) + "\r\nX-Pad: " + strings.Repeat("p", 4100)
		},
		func(n int) string { return "Content-Length:  " + strconv.Itoa(n) + " " },
	}
)

// decodeScript turns fuzz input into a script, four bytes a step (at most 6 steps):
// flags (bit 0 HEAD, bit 1 late attacker response, bits 2-3 ending, bit 4 HTTP/1.0,
// bits 5-6 informational responses, bit 7 raw), status, framing, body length. A raw step
// takes its response verbatim: its length from the next byte, then that many bytes.
func decodeScript(p []byte) []exchangeStep {
	var s []exchangeStep
	for len(p) >= 4 && len(s) < 6 {
		flags, st, fr, n := p[0], p[1], p[2], int(p[3])
		p = p[4:]
		e := exchangeStep{Method: "GET"}
		if flags&1 != 0 {
			e.Method = "HEAD"
		}
		if flags&2 != 0 {
			e.Late = attackResp
		}
		e.End = ending(flags >> 2 & 3)
		if flags&0x80 != 0 {
			k := min(n, len(p))
			e.Resp, p = string(p[:k]), p[k:]
			s = append(s, e)
			continue
		}
		proto := "HTTP/1.1 "
		if flags&0x10 != 0 {
			proto = "HTTP/1.0 "
		}
		var b strings.Builder
		for range flags >> 5 & 3 {
			b.WriteString(hints)
		}
		b.WriteString(proto + fuzzStatuses[int(st)%len(fuzzStatuses)] + "\r\n")
		if f := fuzzFraming[int(fr)%len(fuzzFraming)](n); f != "" {
			b.WriteString(f + "\r\n")
		}
		b.WriteString("\r\n" + strings.Repeat("b", n))
		if fr&0x80 != 0 {
			e.Resp, e.End = "", resetConn // no answer at all
		} else {
			e.Resp = b.String()
		}
		s = append(s, e)
	}
	return s
}

// FuzzLeanVsTransport: any script the input decodes to gives the same results through
// the lean client as through ReverseProxy over http.Transport (compareClients).
func FuzzLeanVsTransport(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 1, 0, 0, 4, 0, 0, 0, 4})
	f.Add([]byte{3, 0, 0, 8, 0, 0, 0, 4})                   // HEAD, late attacker response
	f.Add([]byte{2, 1, 0, 0, 0, 0, 0, 4})                   // 204, late
	f.Add([]byte{2, 2, 0, 8, 0, 0, 0, 4})                   // 304, late
	f.Add([]byte{0, 0, 1, 10, 0, 0, 0, 4})                  // more than Content-Length
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0x80, 0, 0, 0, 0, 4})    // reset instead of an answer
	f.Add([]byte{0x60, 0, 0, 4, 0x20, 5, 0, 0, 0, 0, 4, 4}) // 1xx, 101
	f.Add([]byte{0, 0, 4, 0, 0, 0, 5, 2, 0, 0, 7, 2, 0, 0, 11, 2, 0, 0, 12, 2, 0x10, 0, 10, 2})
	f.Add([]byte{0x80, 0, 0, 20, 'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', '2', '0', '0', ' ', 'O', 'K', '\r', '\n', '\r', '\n', 'x', 0, 0, 0, 4})
	f.Fuzz(func(t *testing.T, p []byte) {
		if s := decodeScript(p); len(s) > 0 {
			compareClients(t, s)
		}
	})
}
