package upstream

import (
	"bufio"
	"bytes"
	"net/textproto"
	"strconv"

	"golang.org/x/net/http/httpguts"
)

// leanHead is an upstream response head the lean path copies itself: CRLF-framed, fully
// buffered, a final status (200-599), valid fields, a body of known length (or none) and
// nothing that needs ReverseProxy's streaming or trailer handling.
type leanHead struct {
	size   int // bytes of the head in the reader, final empty line included
	status int
	length int64 // body bytes that follow
	keep   bool  // the connection may be reused after the body
	fields int   // header lines
	hop    bool  // some field is hop-by-hop (or named by Connection)
}

// peekHead waits until br holds a complete response head and returns it, not consumed.
// A nil head without error means the head is not one the lean path reads (it does not
// fit the buffer, or its lines end in bare LF): http.ReadResponse reads it instead.
func peekHead(br *bufio.Reader) ([]byte, error) {
	for n := 1; ; {
		if _, err := br.Peek(n); err != nil {
			if err == bufio.ErrBufferFull {
				return nil, nil
			}
			if n == 1 {
				return nil, nothingRead(err)
			}
			return nil, err
		}
		b, _ := br.Peek(br.Buffered())
		crlf := bytes.Index(b, []byte("\r\n\r\n"))
		end := len(b)
		if crlf >= 0 {
			end = crlf + 4
		}
		// A line ending in a bare LF anywhere in the head ("\n\n", "\n\r\n", "\r\n\n"
		// all end a head for http.ReadResponse): leave the head to it.
		if bareLF(b[:end]) {
			return nil, nil
		}
		if crlf >= 0 {
			return b[:crlf+4], nil
		}
		if len(b) == br.Size() {
			return nil, nil
		}
		n = len(b) + 1
	}
}

// bareLF reports whether some '\n' in b is not preceded by '\r'.
func bareLF(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return false
		}
		if i+j == 0 || b[i+j-1] != '\r' {
			return true
		}
		i += j + 1
	}
}

// parseHead checks head (from peekHead) for the lean path; ok false leaves it to
// http.ReadResponse and ReverseProxy. bodiless: the request was HEAD.
func parseHead(head []byte, bodiless bool) (h leanHead, ok bool) {
	h.size = len(head)
	lines := head[:len(head)-4]
	line, rest, more := bytes.Cut(lines, []byte("\r\n"))
	if len(line) < 12 || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return h, false
	}
	var http11, closeTok, keepTok bool
	switch string(line[:8]) {
	case "HTTP/1.1":
		http11 = true
	case "HTTP/1.0":
	default:
		return h, false
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 200 || code > 599 || bytes.IndexByte(line, '\n') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
		return h, false
	}
	h.status = code
	cl := -1
	for more {
		line, rest, more = bytes.Cut(rest, []byte("\r\n"))
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !tokenBytes(name) || !fieldValue(value) {
			return h, false
		}
		h.fields++
		value = bytes.Trim(value, " \t")
		switch {
		case asciiEqualFold(name, "Transfer-Encoding"):
			return h, false
		case asciiEqualFold(name, "Content-Length"):
			// Digits only, as http.ReadResponse's ParseUint (no sign: "-0" and "+1" are
			// refused). A repeated field, even an equal one, is left to it.
			n, ok := contentLength(value)
			if cl >= 0 || !ok {
				return h, false
			}
			cl = int(n)
			h.length = n
		case asciiEqualFold(name, "Content-Type"):
			if len(value) >= 17 && asciiEqualFold(value[:17], "text/event-stream") {
				return h, false // ReverseProxy flushes every write of event streams
			}
		case asciiEqualFold(name, "Connection"):
			h.hop = true
			v := []string{string(value)}
			closeTok = closeTok || httpguts.HeaderValuesContainsToken(v, "close")
			keepTok = keepTok || httpguts.HeaderValuesContainsToken(v, "keep-alive")
		default:
			h.hop = h.hop || hopByHop(name)
		}
	}
	// http.ReadResponse's rule (shouldClose): HTTP/1.1 unless "close", HTTP/1.0 only with
	// "keep-alive" (and no "close").
	h.keep = !closeTok && (http11 || keepTok)
	switch {
	case bodiless || code == 204 || code == 304:
		h.length = 0
	case cl < 0: // delimited by the connection's close: ReverseProxy streams it
		return h, false
	}
	return h, true
}

// contentLength parses a Content-Length value (trimmed) as http.ReadResponse does:
// ASCII digits only, below 2^63.
func contentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 { // 18 digits cannot overflow; longer ones are rare: refused
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hopByHop reports whether name is one of ReverseProxy's fixed hop-by-hop headers.
func hopByHop[T ~[]byte | ~string](name T) bool {
	for _, h := range [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		if asciiEqualFold(name, h) {
			return true
		}
	}
	return false
}

func asciiEqualFold[T ~[]byte | ~string](b T, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

func tokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}

// fieldValue is httpguts.ValidHeaderFieldValue on bytes: no control byte but tab.
func fieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// canonical is textproto.CanonicalMIMEHeaderKey for a valid token k, without allocating
// when k already is canonical.
func canonical(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (upper && 'a' <= c && c <= 'z') || (!upper && 'A' <= c && c <= 'Z') {
			return textproto.CanonicalMIMEHeaderKey(k)
		}
		upper = c == '-'
	}
	return k
}
