package listener

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// statusLine writes "HTTP/1.x code text".
func (w *response) statusLine(code int) {
	bw := w.hc.bw
	if w.req.ProtoAtLeast(1, 1) {
		_, _ = bw.WriteString("HTTP/1.1 ")
	} else {
		_, _ = bw.WriteString("HTTP/1.0 ")
	}
	_, _ = bw.Write(strconv.AppendInt(w.scratch[:0], int64(code), 10))
	if text := http.StatusText(code); text != "" {
		_ = bw.WriteByte(' ')
		_, _ = bw.WriteString(text)
	} else {
		_, _ = bw.WriteString(" status code ")
		_, _ = bw.Write(strconv.AppendInt(w.scratch[:0], int64(code), 10))
	}
	_, _ = bw.WriteString("\r\n")
}

// headerLines writes the handler's header fields as net/http's Header.WriteSubset does
// (invalid names dropped, CR and LF in values made spaces, values trimmed), except the
// framing fields: with final, Connection, trailers (TrailerPrefix) and what the status
// forbids too. Fields are written in map order (net/http sorts them; nothing depends on
// the order, and sorting costs a pass per response).
func (w *response) headerLines(code int, final bool) {
	bw := w.hc.bw
	for k, vv := range w.header {
		switch k {
		case "Content-Length", "Transfer-Encoding":
			continue
		case "Connection":
			if final {
				continue
			}
		case "Content-Type":
			if final && code == http.StatusNotModified {
				continue
			}
		}
		if final && strings.HasPrefix(k, http.TrailerPrefix) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
}

func writeField(bw interface {
	WriteString(string) (int, error)
}, k, v string) {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\n", " ", "\r", " ").Replace(v)
	}
	v = textproto.TrimString(v)
	_, _ = bw.WriteString(k)
	_, _ = bw.WriteString(": ")
	_, _ = bw.WriteString(v)
	_, _ = bw.WriteString("\r\n")
}

// commit decides the framing as net/http's chunkWriter.writeHeader does, writes the
// framing fields and the end of the header block, then any pending body.
func (w *response) commit() {
	w.committed = true
	w.hc.watch.started.Store(true)
	hc, req := w.hc, w.req
	bw := hc.bw
	keepAlives := !hc.l.closing.Load()
	isHEAD := req.Method == http.MethodHead
	bodyOK := bodyAllowedForStatus(w.status)
	handlerCL := w.contentLength != -1
	var setConn string

	// A handler done within the buffer gets a Content-Length (even 0).
	if w.handlerDone && len(w.trailers) == 0 && !w.prefixTrailers() && w.te == "" && bodyOK &&
		!handlerCL && (!isHEAD || w.written > 0) {
		w.contentLength = w.written
	}
	hasCL := w.contentLength != -1
	if w.wants10KeepAlive && (isHEAD || hasCL || !bodyOK) {
		if len(w.conn) == 0 {
			setConn = "keep-alive"
		}
	} else if !req.ProtoAtLeast(1, 1) || w.wantsClose {
		w.closeAfter = true
	}
	if (len(w.conn) > 0 && w.conn[0] == "close") || !keepAlives {
		w.closeAfter = true
	}
	if b := w.body; b != nil {
		sawEOF, closed, busy := b.state()
		switch {
		case b.expect && !sawEOF:
			w.closeAfter = true // the client may still be waiting for a 100 Continue
		case req.ContentLength != 0 && !w.closeAfter && !w.fullDuplex && !sawEOF:
			// Read the rest of the body now: some clients send the whole request before
			// reading the response, and would deadlock (net/http's Issue 15527). Unless
			// another goroutine is reading it (the proxy's transport, waiting for the
			// client): the response goes now, and the connection is closed after it.
			if closed || busy || !b.drain() {
				w.closeAfter = true
				setConn = "close"
			}
		}
	}
	if hasCL && w.te != "" && w.te != "identity" {
		hasCL, w.contentLength = false, -1 // both given: Transfer-Encoding wins, as net/http
	}
	switch {
	case isHEAD || !bodyOK || w.status == http.StatusNoContent:
	case hasCL:
	case req.ProtoAtLeast(1, 1):
		if w.te == "identity" {
			w.closeAfter = true
		} else {
			w.chunking = true
		}
	default:
		w.closeAfter = true
	}
	if !w.hasDate {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.Write(hc.l.dates.get())
		_, _ = bw.WriteString("\r\n")
	}
	if hasCL && bodyOK && !w.chunking {
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.Write(strconv.AppendInt(w.scratch[:0], w.contentLength, 10))
		_, _ = bw.WriteString("\r\n")
	}
	if w.chunking {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	upgrade := w.status == http.StatusSwitchingProtocols && len(w.header["Upgrade"]) > 0
	switch {
	case w.closeAfter && (!keepAlives || !httpguts.HeaderValuesContainsToken(w.conn, "close")) && !upgrade:
		if req.ProtoAtLeast(1, 1) {
			_, _ = bw.WriteString("Connection: close\r\n")
		}
	case setConn == "close":
		_, _ = bw.WriteString("Connection: close\r\n")
	default:
		for _, v := range w.conn {
			writeField(bw, "Connection", v)
		}
		if setConn != "" && len(w.conn) == 0 {
			writeField(bw, "Connection", setConn)
		}
	}
	_, _ = bw.WriteString("\r\n")
	if len(w.pending) > 0 {
		w.writeBody(w.pending, "", len(w.pending))
		w.pending = w.pending[:0]
	}
}

// hasToken is net/http's test of a Connection value for keep-alive and close (it decides
// keeping the connection on the first value only): token, any case, between the ends, a
// space, a comma or a tab. token is lower case.
func hasToken(v, token string) bool {
	for sp := 0; sp+len(token) <= len(v); sp++ {
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if end := sp + len(token); end != len(v) && !isTokenBoundary(v[end]) {
			continue
		}
		if strings.EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

// prefixTrailers reports whether the handler set undeclared trailers (TrailerPrefix).
func (w *response) prefixTrailers() bool {
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// writeTrailers writes the trailer fields of a chunked response: the declared ones with
// their final values, and those set with http.TrailerPrefix. Invalid names are dropped
// as net/http's Header.Write does: a CR or LF in one would end the trailer section and
// let the handler write a response of its own making.
func (w *response) writeTrailers() {
	bw := w.hc.bw
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if !httpguts.ValidHeaderFieldName(name) {
				continue
			}
			name = http.CanonicalHeaderKey(name)
			for _, v := range vv {
				writeField(bw, name, v)
			}
		}
	}
	for _, k := range w.trailers {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range w.header[k] {
			writeField(bw, k, v)
		}
	}
}

// bodyAllowedForStatus reports whether a status may have a body (RFC 9110 6.4.1).
func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199, status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// foreachHeaderElement calls fn for each non-empty element of a comma-separated list.
func foreachHeaderElement(v string, fn func(string)) {
	for f := range strings.SplitSeq(v, ",") {
		if f = textproto.TrimString(f); f != "" {
			fn(f)
		}
	}
}
