package listener

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/portcullis/portcullis/internal/dataplane/listener/h2"
)

// maxLeanFields bounds the header fields the lean parser takes (more: http.ReadRequest).
const maxLeanFields = 64

// leanField is one header field of a head, as offsets into it: key [ks,ke), value [vs,ve).
type leanField struct {
	ks, ke, vs, ve int
}

// leanParse parses the common request head, complete in buf, for less than
// http.ReadRequest allocates; it returns the request (carrying a fresh WithCancel
// context of parent, cancelled by cancel) and the bytes the head takes, or a nil
// request when the head is outside its subset and http.ReadRequest must read it.
//
// The subset: CRLF line ends; "METHOD SP origin-form SP HTTP/1.1" (or HTTP/1.0), the
// method a token, the target starting with '/' and made of visible ASCII but '%' and
// '#'; header fields with token names directly followed by ':', values without CTLs
// but HTAB, no obs-fold, at most maxLeanFields; exactly one Host, valid per
// httpguts.ValidHostHeader; no Transfer-Encoding, no Expect, and no Content-Length
// but a single "0"; hence no body. Within it, the request equals what http.ReadRequest
// and readRequest's checks produce (leanparse_test.go compares them).
//
// The request, its URL, header map and values are built in sc (cleared: see putLean),
// which the request then lives in. Its strings are *last, the connection's previous
// head, when the bytes are the same (see leanString).
func leanParse(parent context.Context, buf []byte, sc *leanScratch, last *string) (*http.Request, context.CancelFunc, int) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, nil, 0
	}
	n := end + 4
	head := buf[:n]

	// Request line.
	eol := bytes.Index(head, []byte("\r\n"))
	line := head[:eol]
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return nil, nil, 0
	}
	ts := sp + 1
	te := ts + bytes.IndexByte(line[ts:], ' ')
	if te < ts || te == ts || line[ts] != '/' || !safeTarget(line[ts:te]) {
		return nil, nil, 0
	}
	var minor int
	switch string(line[te+1:]) {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
	default:
		return nil, nil, 0
	}

	// Header fields.
	var fields [maxLeanFields]leanField
	nf, host := 0, -1
	for pos := eol + 2; pos < n-2; {
		e := pos + bytes.Index(head[pos:], []byte("\r\n"))
		colon := bytes.IndexByte(head[pos:e], ':')
		if colon <= 0 || nf == maxLeanFields || !isToken(head[pos:pos+colon]) {
			return nil, nil, 0
		}
		f := leanField{ks: pos, ke: pos + colon, vs: pos + colon + 1, ve: e}
		for _, c := range head[f.vs:f.ve] {
			if c < ' ' && c != '\t' || c == 0x7f {
				return nil, nil, 0
			}
		}
		for f.vs < f.ve && (head[f.vs] == ' ' || head[f.vs] == '\t') {
			f.vs++
		}
		for f.ve > f.vs && (head[f.ve-1] == ' ' || head[f.ve-1] == '\t') {
			f.ve--
		}
		key, val := head[f.ks:f.ke], head[f.vs:f.ve]
		switch {
		case bytes.EqualFold(key, []byte("Host")):
			if host >= 0 {
				return nil, nil, 0
			}
			host = nf
		case bytes.EqualFold(key, []byte("Content-Length")):
			if string(val) != "0" || hasField(head, fields[:nf], key) {
				return nil, nil, 0
			}
		case bytes.EqualFold(key, []byte("Transfer-Encoding")), bytes.EqualFold(key, []byte("Expect")):
			return nil, nil, 0
		}
		fields[nf] = f
		nf++
		pos = e + 2
	}
	if host < 0 {
		return nil, nil, 0
	}
	s := leanString(head, fields[:nf], last)
	hostValue := s[fields[host].vs:fields[host].ve]
	if !httpguts.ValidHostHeader(hostValue) {
		return nil, nil, 0
	}
	h, hasPragma := leanHeader(s, fields[:nf], host, sc)
	if hasPragma {
		if pv := h["Pragma"]; pv[0] == "no-cache" && h["Cache-Control"] == nil {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	conn := h["Connection"]
	closing := httpguts.HeaderValuesContainsToken(conn, "close")
	if minor == 0 {
		closing = closing || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	}

	target := s[ts:te]
	u := &sc.url
	if !h2.OriginURL(u, target) {
		// safeTarget accepts only what OriginURL fills in; should they ever differ, the
		// full parser decides rather than a request served with an empty URL.
		return nil, nil, 0
	}
	ctx, cancel := context.WithCancel(parent)
	sc.req = http.Request{
		Method: s[:sp], URL: u, Proto: s[te+1 : eol], ProtoMajor: 1, ProtoMinor: minor,
		Header: h, Body: http.NoBody, Host: hostValue,
		Close: closing, RequestURI: target,
	}
	// WithContext's copy stays on the stack (inlined, copied back): the request lives in sc.
	sc.req = *sc.req.WithContext(ctx)
	return &sc.req, cancel, n
}

// leanScratch holds a request leanParse builds: the request, its URL, its header map and
// the backing array of its values. A connection takes one from its Listener's pool for
// each request the lean parser reads and gives it back once serveRequest is done with
// the request (hconn.releaseLean), so that under load a request allocates none of them
// (design 0039). By then the handler has returned (the http.Handler contract: the
// request is not used after ServeHTTP) and the response is finished; nothing the
// connection keeps (its response writer's req is dropped with it) points into it.
type leanScratch struct {
	req    http.Request
	url    url.URL
	header http.Header
	vals   []string
}

// maxLeanScratchFields bounds the header maps kept for reuse (a map keeps the size it
// grew to).
const maxLeanScratchFields = 32

func (l *Listener) getLean() *leanScratch {
	if sc, ok := l.leans.Get().(*leanScratch); ok {
		return sc
	}
	return &leanScratch{header: make(http.Header)}
}

// putLean resets sc completely and pools it, unless its map grew large: no header key or
// value, URL part or Request field of one request can show in the next.
func (l *Listener) putLean(sc *leanScratch) {
	if len(sc.header) > maxLeanScratchFields || cap(sc.vals) > maxLeanScratchFields {
		return
	}
	clear(sc.header)
	clear(sc.vals[:cap(sc.vals)])
	sc.req, sc.url = http.Request{}, url.URL{}
	l.leans.Put(sc)
}

// maxSharedHead bounds the request head a connection keeps for the next one to share
// (leanString): a connection between requests holds at most this much, and none once it
// is idle for hopDelay.
const maxSharedHead = 512

// leanString copies the head into one string, with the field names canonicalized in
// place as textproto.CanonicalMIMEHeaderKey does for tokens (same offsets).
//
// A head of up to maxSharedHead bytes is canonicalized on the stack first: when that
// equals *last (the previous request on the connection, as a client's requests mostly
// are), *last is the string and nothing is allocated; otherwise the new string becomes
// *last. Strings are immutable: sharing one between requests reuses no memory, and
// whatever kept the previous request's strings (a log entry, a span) still reads them.
func leanString(head []byte, fields []leanField, last *string) string {
	if len(head) <= maxSharedHead {
		var buf [maxSharedHead]byte
		b := buf[:copy(buf[:], head)]
		for _, f := range fields {
			upper := true
			for i, c := range b[f.ks:f.ke] {
				c = fold(c, upper)
				b[f.ks+i] = c
				upper = c == '-'
			}
		}
		if string(b) != *last {
			*last = string(b)
		}
		return *last
	}
	*last = ""
	var b strings.Builder
	b.Grow(len(head))
	at := 0
	for _, f := range fields {
		key := head[f.ks:f.ke]
		if canonical(key) {
			continue // copied with what surrounds it
		}
		b.Write(head[at:f.ks])
		upper := true
		for _, c := range key {
			c = fold(c, upper)
			b.WriteByte(c)
			upper = c == '-'
		}
		at = f.ke
	}
	b.Write(head[at:])
	return b.String()
}

// fold is token byte c in canonical form: upper case first (upper), lower case else.
func fold(c byte, upper bool) byte {
	if upper && 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	} else if !upper && 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// canonical reports whether a token is in the canonical form of leanString.
func canonical(key []byte) bool {
	upper := true
	for _, c := range key {
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// leanHeader builds the header map from the fields of s (canonical names), but the
// Host field: the map and one backing array for all values taken from sc (cleared),
// repeated fields in order. It also reports whether a Pragma field is present.
func leanHeader(s string, fields []leanField, host int, sc *leanScratch) (http.Header, bool) {
	var done [maxLeanFields]bool
	distinct, pragma := 0, false
	for i, f := range fields {
		if i == host || done[i] {
			continue
		}
		distinct++
		for j := i + 1; j < len(fields); j++ {
			if fields[j].ke-fields[j].ks == f.ke-f.ks && s[fields[j].ks:fields[j].ke] == s[f.ks:f.ke] {
				done[j] = true
			}
		}
		pragma = pragma || s[f.ks:f.ke] == "Pragma"
	}
	if pragma {
		distinct++ // room for the Cache-Control the fix-up may add
	}
	h := sc.header
	if h == nil || distinct > maxLeanScratchFields {
		h = make(http.Header, distinct)
		sc.header = h // not pooled again (putLean)
	}
	if cap(sc.vals) < len(fields)-1 {
		sc.vals = make([]string, len(fields)-1)
	}
	vals := sc.vals[:len(fields)-1]
	at := 0
	done = [maxLeanFields]bool{}
	for i, f := range fields {
		if i == host || done[i] {
			continue
		}
		key := s[f.ks:f.ke]
		start := at
		for j := i; j < len(fields); j++ {
			g := fields[j]
			if j == i || !done[j] && s[g.ks:g.ke] == key {
				done[j] = true
				vals[at] = s[g.vs:g.ve]
				at++
			}
		}
		h[key] = vals[start:at:at]
	}
	return h, pragma
}

// hasField reports whether one of fields of head has the name key (any case).
func hasField(head []byte, fields []leanField, key []byte) bool {
	for _, f := range fields {
		if bytes.EqualFold(head[f.ks:f.ke], key) {
			return true
		}
	}
	return false
}

// isToken reports whether b is a non-empty RFC 7230 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return len(b) > 0
}

// safeTarget reports whether a request-target has only visible ASCII but '%' and '#'
// (so url.ParseRequestURI would neither unescape nor reject any of it).
func safeTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '%' || c == '#' {
			return false
		}
	}
	return true
}
