package listener

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// chunkingBuffer is how much body a handler may write before the response header must be
// sent: a handler that finishes within it gets a Content-Length, otherwise the body is
// chunked (HTTP/1.1) or close-delimited (HTTP/1.0). net/http's value.
const chunkingBuffer = 2048

// response is our http.ResponseWriter, reused by every request of a connection. The
// header block is serialized into the connection's writer when WriteHeader is called,
// except the framing fields (Content-Length, Transfer-Encoding, Connection, Date), which
// commit adds once the framing is known; so neither the header map is cloned nor the
// body copied when the handler declares a Content-Length.
type response struct {
	hc     *hconn
	req    *http.Request
	body   *body // nil when the request has none
	header http.Header

	status      int
	wroteHeader bool // the final (non-1xx) status was given
	committed   bool // the framing fields are written: body bytes go to the wire
	handlerDone bool
	chunking    bool
	closeAfter  bool
	fullDuplex  bool
	wantsClose  bool // the request asks to close (net/http's wantsClose)
	// An HTTP/1.0 request asking to keep the connection (net/http's wants10KeepAlive).
	wants10KeepAlive bool
	hasDate          bool
	contentLength    int64 // declared by the handler; -1: unknown
	written          int64
	te               string   // the handler's Transfer-Encoding
	conn             []string // the handler's Connection values
	trailers         []string // declared trailer names
	pending          []byte   // body written before commit (at most chunkingBuffer)
	replacing        bool     // writing the 408 of a timeout (timeoutReply)
	replaced         bool     // the 408 is written: the handler's writes fail

	// The backing array lent for the header's values (HeaderValues), reset with the rest.
	vals     [lentValues]string
	valsLent bool

	canContinue atomic.Bool // a 100 Continue may still be sent
	contMu      sync.Mutex  // orders a 100 Continue (body reader) and the handler's writes
	scratch     [24]byte
}

func (w *response) reset(req *http.Request) {
	h := w.header
	if h == nil {
		if v, ok := w.hc.l.headers.Get().(http.Header); ok {
			h = v
		} else {
			h = make(http.Header)
		}
	}
	clear(h)
	*w = response{hc: w.hc, req: req, header: h, contentLength: -1, pending: w.pending[:0]}
	// As net/http, from the request as it arrived (the handler may change its header).
	w.wantsClose = req.Close
	if conn := req.Header["Connection"]; len(conn) > 0 {
		w.wants10KeepAlive = req.ProtoMajor == 1 && req.ProtoMinor == 0 && hasToken(conn[0], "keep-alive")
		w.wantsClose = w.wantsClose || hasToken(conn[0], "close")
	}
	if req.Method == "PRI" { // "PRI * HTTP/2.0" over HTTP/1: answered, then closed
		w.closeAfter = true
	}
}

// idle drops what the last request left while the connection waits: its request and
// body, and the header map (pooled: under load the next request of some connection
// takes it back).
func (w *response) idle() {
	w.req, w.body = nil, nil
	w.vals, w.valsLent = [lentValues]string{}, false
	if w.header != nil {
		w.hc.l.headers.Put(w.header)
		w.header = nil
	}
}

func (w *response) Header() http.Header { return w.header }

// lentValues is how many header values a response lends (HeaderValues).
const lentValues = 8

// HeaderValues lends the backing array for n values of the response header map, for
// the upstream's response head (upstream.ValueLender): the map and these values are
// reused by the connection's next request, after the handler returned and the head was
// written. Nil when n is over lentValues or the array is lent already.
func (w *response) HeaderValues(n int) []string {
	if w.valsLent || n > len(w.vals) {
		return nil
	}
	w.valsLent = true
	return w.vals[:n:n]
}

func (w *response) WriteHeader(code int) {
	if w.hc.isHijacked() {
		w.hc.l.cfg.Logger.Debug("WriteHeader on a hijacked connection")
		return
	}
	if w.wroteHeader {
		w.hc.l.cfg.Logger.Debug("superfluous WriteHeader call", "status", code)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http
	}
	if code < 101 || code > 199 {
		w.disableContinue()
	}
	bw := w.hc.bw
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational (e.g. 103 Early Hints): written at once; the header map is kept.
		w.contMu.Lock()
		w.statusLine(code)
		w.headerLines(code, false)
		_, _ = bw.WriteString("\r\n")
		_ = bw.Flush()
		w.contMu.Unlock()
		return
	}
	if why := w.hc.watch.fired.Load(); why != 0 && !w.replacing {
		w.timeoutReply(why)
		return
	}
	w.wroteHeader, w.status = true, code
	h := w.header
	if cl := h["Content-Length"]; len(cl) > 0 {
		if v, err := strconv.ParseInt(cl[0], 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.hc.l.cfg.Logger.Debug("invalid Content-Length from handler", "value", cl[0])
		}
	}
	if te := h["Transfer-Encoding"]; len(te) > 0 {
		w.te = te[0]
	}
	w.conn = h["Connection"]
	_, w.hasDate = h["Date"]
	for _, v := range h["Trailer"] {
		foreachHeaderElement(v, w.declareTrailer)
	}
	w.statusLine(code)
	w.headerLines(code, true)
}

func (w *response) Write(p []byte) (int, error)        { return w.write(p, "", len(p)) }
func (w *response) WriteString(s string) (int, error)  { return w.write(nil, s, len(s)) }
func (w *response) SetReadDeadline(t time.Time) error  { return w.hc.nc.SetReadDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.hc.nc.SetWriteDeadline(t) }
func (w *response) EnableFullDuplex() error            { w.fullDuplex = true; return nil }
func (w *response) Flush()                             { _ = w.FlushError() }

func (w *response) write(p []byte, s string, n int) (int, error) {
	if w.hc.isHijacked() {
		return 0, http.ErrHijacked
	}
	if w.replaced {
		return 0, http.ErrHandlerTimeout
	}
	w.disableContinue()
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(n)
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.req.Method == http.MethodHead { // counted (for a Content-Length), not sent
		if !w.committed && w.written > chunkingBuffer {
			w.commit()
		}
		return n, nil
	}
	if !w.committed {
		if w.contentLength == -1 && w.te == "" && len(w.pending)+n <= chunkingBuffer {
			w.pending = w.hc.l.pendingBuf(w.pending)
			if p != nil {
				w.pending = append(w.pending, p...)
			} else {
				w.pending = append(w.pending, s...)
			}
			return n, nil
		}
		w.commit()
	}
	w.writeBody(p, s, n)
	if w.hc.werr != nil {
		return 0, w.hc.werr
	}
	return n, nil
}

// writeBody writes body bytes to the connection, as a chunk when chunking.
func (w *response) writeBody(p []byte, s string, n int) {
	bw := w.hc.bw
	if w.chunking {
		_, _ = bw.Write(strconv.AppendInt(w.scratch[:0], int64(n), 16))
		_, _ = bw.WriteString("\r\n")
	}
	if p != nil {
		_, _ = bw.Write(p)
	} else {
		_, _ = bw.WriteString(s)
	}
	if w.chunking {
		_, _ = bw.WriteString("\r\n")
	}
}

func (w *response) FlushError() error {
	if w.hc.isHijacked() {
		return http.ErrHijacked
	}
	w.disableContinue()
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit()
	}
	if err := w.hc.bw.Flush(); err != nil {
		return err
	}
	return w.hc.werr
}

// Hijack hands the connection to the handler (ReverseProxy's 101 Switching Protocols).
// Our loop then forgets it: no more requests, not closed, not tracked.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hc := w.hc
	if w.handlerDone {
		return nil, nil, errors.New("listener: Hijack called after the handler returned")
	}
	w.disableContinue()
	if w.wroteHeader {
		if !w.committed {
			w.commit()
		}
		_ = hc.bw.Flush()
	}
	if !hc.hijacked.CompareAndSwap(false, true) {
		return nil, nil, http.ErrHijacked
	}
	hc.watch.stop()
	hc.state.Store(stateClosed)
	hc.l.conns.remove(hc)
	_ = hc.nc.SetDeadline(time.Time{})
	hc.bw.Reset(hc.nc)
	rw := bufio.NewReadWriter(hc.br, hc.bw)
	hc.br, hc.bw = nil, nil // the handler's now: not pooled
	return hc.nc, rw, nil
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	w.handlerDone = true
	w.disableContinue()
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit()
	}
	if w.chunking {
		_, _ = w.hc.bw.WriteString("0\r\n")
		w.writeTrailers()
		_, _ = w.hc.bw.WriteString("\r\n")
	}
	_ = w.hc.bw.Flush()
}

// reusable reports whether the connection may serve another request.
func (w *response) reusable() bool {
	if w.closeAfter || w.hc.werr != nil {
		return false
	}
	// A short body leaves the client waiting for the rest: close.
	return w.req.Method == http.MethodHead || w.contentLength == -1 ||
		!bodyAllowedForStatus(w.status) || w.contentLength == w.written
}

func (w *response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if httpguts.ValidTrailerHeader(k) {
		w.trailers = append(w.trailers, k)
	}
}
