package h2

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

func httpCanonical(name string) string { return http.CanonicalHeaderKey(name) }

// headers handles a HEADERS frame: a new stream, or the trailers of an open one. The
// checks come in x/net's order, so that a frame breaking several rules gets the same
// answer from both servers: the Framer's field checks, then the stream id, the stream
// limit, the priority, and last the request itself.
func (c *conn) headers(hf *http2.HeadersFrame) error {
	id, end := hf.StreamID, hf.StreamEnded()
	prioSelf := hf.HasPriority() && hf.Priority.StreamDep == id
	if err := c.readHeaderBlock(hf); err != nil { // hf is invalid from here on
		return err
	}
	if c.blk.malformed() {
		return streamErr(id, http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	if c.out.tooManyControlLocked() {
		c.mu.Unlock()
		return connErr(http2.ErrCodeEnhanceYourCalm)
	}
	if c.goAwaySent && (c.goAwayCode != http2.ErrCodeNo || id > c.maxClientID) {
		c.mu.Unlock()
		return nil // decoded (HPACK state kept), not served, not checked further
	}
	if id%2 != 1 {
		c.mu.Unlock()
		return connErr(http2.ErrCodeProtocol)
	}
	if st := c.streams[id]; st != nil {
		err := c.trailersLocked(st, end)
		c.mu.Unlock()
		return err
	}
	// A new stream's id must be above every id the client used (RFC 9113 5.1.1): a
	// closed stream's or a lower one is a connection error, as in x/net.
	if id <= c.maxClientID {
		c.mu.Unlock()
		return connErr(http2.ErrCodeProtocol)
	}
	c.maxClientID = id
	if c.closing || len(c.streams) >= int(c.srv.maxStreams()) {
		c.mu.Unlock()
		return streamErr(id, http2.ErrCodeRefusedStream)
	}
	c.mu.Unlock()

	if prioSelf {
		return streamErr(id, http2.ErrCodeProtocol)
	}
	st, ok := c.newStream(id, end)
	if !ok {
		return streamErr(id, http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.openLocked(st, end)
}

// trailersLocked takes the request trailers, which must end the stream. As in x/net,
// they are validated only when the request declared trailers (else they are dropped
// unread), and only declared ones reach Request.Trailer.
func (c *conn) trailersLocked(st *stream, end bool) error {
	if st.remoteClosed {
		return streamErr(st.id, http2.ErrCodeStreamClosed)
	}
	if st.gotTrailers {
		return connErr(http2.ErrCodeProtocol)
	}
	st.gotTrailers = true
	c.touchLocked(st)
	if !end || c.blk.pseudo > 0 || c.blk.truncated {
		return streamErr(st.id, http2.ErrCodeProtocol)
	}
	var got http.Header
	for _, f := range c.blk.fields {
		if st.reqTrailer == nil {
			break
		}
		k := c.canonical(f.Name)
		if !httpguts.ValidTrailerHeader(k) {
			return streamErr(st.id, http2.ErrCodeProtocol)
		}
		if _, ok := st.reqTrailer[k]; ok {
			if got == nil {
				got = make(http.Header)
			}
			got[k] = append(got[k], f.Value)
		}
	}
	if got != nil {
		// Copied into Request.Trailer by the handler's goroutine when it reads the
		// body's EOF, as net/http does (not while the handler may be using the map).
		st.body.setOnEOF(func() {
			for k, vv := range got {
				st.reqTrailer[k] = vv
			}
		})
	}
	return c.endRemoteLocked(st)
}

// newStream validates the decoded block and builds the stream and its request as
// x/net's server does (newWriterAndRequest, httpcommon.NewServerRequest; RFC 9113
// 8.3); false: malformed. Unlike x/net, connection-specific fields and a bad te or
// content-length are refused here too, rather than answered 400 or served (design 0010).
func (c *conn) newStream(id uint32, end bool) (*stream, bool) {
	sc := c.srv.getScratch()
	st, ok := c.buildStream(id, end, sc)
	if !ok {
		c.srv.putScratch(sc) // nothing else saw it
	}
	return st, ok
}

// buildStream is newStream with the request built in sc, which the stream keeps.
func (c *conn) buildStream(id uint32, end bool, sc *scratch) (*stream, bool) {
	b := &c.blk
	if b.protocol != "" {
		return nil, false // extended CONNECT is not offered (an empty one is no value, as x/net)
	}
	if b.method == "CONNECT" {
		if b.path != "" || b.scheme != "" || b.authority == "" {
			return nil, false
		}
	} else if b.method == "" || b.path == "" || (b.scheme != "https" && b.scheme != "http") {
		return nil, false
	}
	// The map and one backing array for the values (as net/textproto does for HTTP/1.1
	// headers, instead of an allocation per field) come from sc, cleared; a head with
	// more fields than a scratch keeps gets its own.
	header := sc.header
	if len(b.fields) > maxScratchFields {
		header = make(http.Header, len(b.fields))
		sc.header = header // not pooled again (putScratch)
	}
	if cap(sc.vals) < len(b.fields) {
		sc.vals = make([]string, len(b.fields))
	}
	vals := sc.vals[:len(b.fields)]
	tes := 0
	for i, f := range b.fields {
		switch f.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			return nil, false // connection-specific (RFC 9113 8.2.2)
		case "te":
			if tes++; tes > 1 || (f.Value != "trailers" && f.Value != "") {
				return nil, false
			}
		}
		k := c.canonical(f.Name)
		if vv := header[k]; vv != nil {
			header[k] = append(vv, f.Value)
		} else {
			vals[i] = f.Value
			header[k] = vals[i : i+1 : i+1]
		}
	}
	// "host" may stand in for a missing :authority, and must equal it otherwise
	// (RFC 9113 8.3.1); it never stays in the header map, where a route matching on
	// it would see a value the client chose apart from the one routed on.
	authority := b.authority
	if hosts := header["Host"]; len(hosts) == 1 {
		if authority == "" {
			authority = hosts[0]
		} else if hosts[0] != authority {
			return nil, false
		}
		delete(header, "Host")
	} else if len(hosts) > 1 {
		return nil, false
	}
	if strings.IndexByte(authority, '@') >= 0 && b.method != "CONNECT" {
		return nil, false // userinfo in :authority (the scheme is http or https here)
	}
	if authority != "" && !httpguts.ValidHostHeader(authority) {
		return nil, false
	}
	if b.method != "CONNECT" && b.path[0] != '/' && b.path != "*" {
		return nil, false // origin-form or "*" only (RFC 9113 8.3.1)
	}
	if cookies := header["Cookie"]; len(cookies) > 1 {
		header["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	st := &stream{c: c, id: id, declLen: -1, sc: sc}
	st.body.init()
	if httpguts.HeaderValuesContainsToken(header["Expect"], "100-continue") {
		delete(header, "Expect")
		st.needContinue = !end
	}
	var trailer http.Header
	for _, v := range header["Trailer"] {
		for _, key := range strings.Split(v, ",") {
			key = http.CanonicalHeaderKey(strings.TrimSpace(key))
			switch key {
			case "Transfer-Encoding", "Trailer", "Content-Length": // not "": x/net keeps it too
			default:
				if trailer == nil {
					trailer = make(http.Header)
				}
				trailer[key] = nil
			}
		}
	}
	delete(header, "Trailer")
	st.reqTrailer = trailer

	u := &sc.url
	requestURI := b.path
	if b.method == "CONNECT" {
		*u, requestURI = url.URL{Host: authority}, authority
	} else if !OriginURL(u, b.path) {
		pu, err := url.ParseRequestURI(b.path)
		if err != nil {
			return nil, false
		}
		*u = *pu
	}
	host := authority
	sc.req = http.Request{
		Method: b.method, URL: u, Proto: "HTTP/2.0", ProtoMajor: 2, Header: header,
		Host: host, RemoteAddr: c.remote, RequestURI: requestURI, Trailer: trailer,
	}
	req := &sc.req
	if b.scheme == "https" {
		req.TLS = c.tls
	}
	if end {
		req.Body = http.NoBody
	} else {
		req.Body = requestBody{st}
		req.ContentLength = -1
		if vv, ok := header["Content-Length"]; ok {
			n, err := strconv.ParseUint(vv[0], 10, 63)
			if err != nil {
				return nil, false
			}
			req.ContentLength = int64(n)
			st.declLen = int64(n)
		}
	}
	st.ctx, st.cancel = context.WithCancel(c.base)
	// WithContext's copy stays on the stack (inlined, copied back): the request lives in sc.
	*req = *req.WithContext(st.ctx)
	st.req = req
	st.rw.init(st)
	if b.truncated {
		st.rw.tooLarge = true
	}
	return st, true
}

// openLocked adds the stream and starts (or queues) its handler. Handlers still
// running for reset streams count against MaxConcurrentStreams; beyond it new streams
// wait in a queue of at most 4x that (rapid reset, CVE-2023-44487, as net/http).
func (c *conn) openLocked(st *stream, end bool) error {
	max := int(c.srv.maxStreams())
	st.sendWindow = c.initialSendWindow
	st.recvAvail = streamRecvWindow
	if end {
		st.remoteClosed = true
		st.body.closeWithError(io.EOF)
	}
	c.streams[st.id] = st
	c.openedLocked(st) // the idle timer is left armed: onIdle finds the stream
	if c.running < max {
		c.running++
		c.srv.startHandler(st)
		return nil
	}
	if len(c.queue) > 4*max {
		return connErr(http2.ErrCodeEnhanceYourCalm)
	}
	c.queue = append(c.queue, st)
	return nil
}
