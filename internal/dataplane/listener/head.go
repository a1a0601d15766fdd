package listener

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// connReader bounds how much the request head may read off the connection
// (MaxHeaderBytes plus the 4 KiB bufio.Reader, as net/http counts), and hands the
// bufio.Reader the byte an idle wait read (see hconn.next).
type connReader struct {
	r        io.Reader
	remain   int64
	reads    int // counts reads (how readRequest knows its buffered view is intact)
	first    [1]byte
	hasFirst bool

	// cancel is the cancel of the context a request read by leanParse already carries,
	// for serveRequest (nil when serveRequest must make the request's context).
	cancel context.CancelFunc

	// With recording, what is read is appended to rec (see readFull).
	recording bool
	rec       []byte
}

func (cr *connReader) Read(p []byte) (int, error) {
	if !cr.hasFirst || len(p) == 0 {
		return cr.read(p)
	}
	cr.hasFirst = false
	p[0] = cr.first[0]
	if len(p) == 1 {
		return 1, nil
	}
	// The rest of the record crypto/tls decrypted for that byte, without blocking (a
	// record of one byte would block here, bounded by the header deadline).
	n, err := cr.read(p[1:])
	return n + 1, err
}

func (cr *connReader) read(p []byte) (int, error) {
	if cr.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > cr.remain {
		p = p[:cr.remain]
	}
	n, err := cr.r.Read(p)
	cr.remain -= int64(n)
	cr.reads++
	if cr.recording {
		cr.rec = append(cr.rec, p[:n]...)
	}
	return n, err
}

// readFirst waits for the first byte of the next request and keeps it for Read.
func (cr *connReader) readFirst() error {
	n, err := cr.read(cr.first[:])
	if n == 1 {
		cr.hasFirst = true
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

const unlimited = 1<<63 - 1

// readRequest reads the next request head, with leanParse when it takes it, else with
// http.ReadRequest and the checks net/http's server adds: protocol version, Host,
// header names and values.
func (hc *hconn) readRequest() (*http.Request, error) {
	if hc.again {
		// As net/http between requests: a next request shorter than 4 bytes before EOF
		// (or the deadline) ends the connection without an answer.
		if _, err := hc.br.Peek(4); err != nil {
			return nil, io.EOF
		}
	}
	if hc.lastPost { // RFC 7230 section 3.5: tolerate a CRLF after a POST body
		peek, _ := hc.br.Peek(4)
		n := 0
		for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
			n++
		}
		_, _ = hc.br.Discard(n)
	}
	// Keep a view of the buffered bytes: if the head is read from them alone, they show
	// whether a Host field was present (http.ReadRequest deletes it from req.Header).
	if _, err := hc.br.Peek(1); err != nil {
		return nil, err
	}
	head, _ := hc.br.Peek(hc.br.Buffered())
	sc := hc.l.getLean()
	if req, cancel, n := leanParse(hc.ctx, head, sc, &hc.lastHead); req != nil { // the common case, cheaper
		hc.lean = sc
		_, _ = hc.br.Discard(n)
		hc.cr.remain = unlimited
		hc.cr.cancel = cancel
		hc.lastPost = req.Method == "POST"
		return req, nil
	}
	hc.l.putLean(sc) // not taken: nothing saw it
	return hc.readFull(head)
}

// releaseLean gives back the scratch of the request leanParse read, once serveRequest
// is done with it.
func (hc *hconn) releaseLean() {
	if sc := hc.lean; sc != nil {
		hc.lean, hc.res.req = nil, nil
		hc.l.putLean(sc)
	}
}

// readFull reads the request head with http.ReadRequest, head being what was buffered.
func (hc *hconn) readFull(head []byte) (*http.Request, error) {
	// http.ReadRequest drops the Host field, leaving req.Host, which an absolute-form
	// target overrides; the checks of net/http's server need the field itself. It is
	// read back from the head's bytes: those buffered now if they hold the whole head
	// (the common case: no copy), else these and what ReadRequest reads (recorded).
	reads := hc.cr.reads
	if !headComplete(head) {
		hc.cr.rec = append(make([]byte, 0, 2*len(head)), head...)
		hc.cr.recording = true
	}
	req, err := http.ReadRequest(hc.br)
	raw := head
	if hc.cr.recording {
		raw, hc.cr.rec, hc.cr.recording = hc.cr.rec, nil, false
	} else if hc.cr.reads != reads {
		raw = nil // cannot happen: a complete head is read without reading
	}
	if err != nil {
		if hc.cr.remain <= 0 {
			return nil, errTooLarge
		}
		return nil, err
	}
	if raw != nil {
		raw = raw[:len(raw)-hc.br.Buffered()]
	}
	hc.cr.remain = unlimited
	h2Upgrade := req.Method == "PRI" && req.RequestURI == "*" && req.Proto == "HTTP/2.0"
	if req.ProtoMajor != 1 && !h2Upgrade {
		return nil, statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	hc.lastPost = req.Method == "POST"
	// With an origin-form target, a non-empty req.Host is the one Host field (ReadRequest
	// refuses two); otherwise look at the field (net/http: an empty one is present).
	hostField, haveHost := req.Host, true
	if req.Host == "" || req.URL.Host != "" {
		hostField, haveHost = hostFieldValue(raw)
	}
	if req.ProtoAtLeast(1, 1) && !haveHost && !h2Upgrade && req.Method != "CONNECT" {
		return nil, statusError{http.StatusBadRequest, "missing required Host header"}
	}
	if !httpguts.ValidHostHeader(hostField) {
		return nil, statusError{http.StatusBadRequest, "malformed Host header"}
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, statusError{http.StatusBadRequest, "invalid header name"}
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, statusError{http.StatusBadRequest, "invalid header value"}
			}
		}
	}
	// The authority an absolute-form or CONNECT target gives is checked too, after
	// net/http's checks (stricter than net/http, which leaves it to url.ParseRequestURI):
	// it is what routing matches.
	if !httpguts.ValidHostHeader(req.Host) {
		return nil, statusError{http.StatusBadRequest, "malformed Host header"}
	}
	if req.Body != http.NoBody {
		_ = hc.nc.SetReadDeadline(time.Time{}) // the body is not bounded by ReadHeaderTimeout
	} // without one, the next read is the next wait's (or a watch's), which set their own
	return req, nil
}

// headComplete reports whether buf holds a whole request head (an empty line ends it;
// textproto accepts bare LF line ends), which ReadRequest then reads without reading
// more off the connection.
func headComplete(buf []byte) bool {
	return bytes.Contains(buf, []byte("\n\r\n")) || bytes.Contains(buf, []byte("\n\n"))
}

// hostFieldValue returns the value of the Host field of a request head as textproto
// reads it (as net/http's server sees it), and whether there is one; a nil head (not
// known) has none.
func hostFieldValue(head []byte) (string, bool) {
	if head == nil {
		return "", false
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return "", false
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return "", false
	}
	v, ok := h["Host"]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// reject answers a request that could not be read, exactly as net/http does, or closes
// quietly when the client went away or timed out.
func (hc *hconn) reject(err error) {
	const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	var se statusError
	switch {
	case errors.Is(err, errTooLarge):
		const msg = "431 Request Header Fields Too Large"
		_, _ = io.WriteString(hc.nc, "HTTP/1.1 "+msg+errorHeaders+msg)
		hc.lingeringClose()
	case isUnsupportedTE(err):
		_, _ = io.WriteString(hc.nc, "HTTP/1.1 501 Not Implemented"+errorHeaders+"Unsupported transfer encoding")
	case isCommonNetReadError(err):
	case errors.As(err, &se):
		text := strconv.Itoa(se.code) + " " + http.StatusText(se.code) + ": " + se.text
		_, _ = io.WriteString(hc.nc, "HTTP/1.1 "+text+errorHeaders+text)
	default:
		const msg = "400 Bad Request"
		_, _ = io.WriteString(hc.nc, "HTTP/1.1 "+msg+errorHeaders+msg)
	}
}

// isUnsupportedTE matches net/http's unexported unsupportedTEError by its messages.
func isUnsupportedTE(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unsupported transfer encoding") || strings.HasPrefix(s, "too many transfer encodings")
}

func isCommonNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}
