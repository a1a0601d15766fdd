package listener

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
)

// maxPostHandlerReadBytes is how much unread request body is discarded after the handler
// to keep the connection (net/http's value); with more left, the connection is closed.
const maxPostHandlerReadBytes = 256 << 10

// statusError is a request refused before the handler, answered as net/http does.
type statusError struct {
	code int
	text string
}

func (e statusError) Error() string { return strconv.Itoa(e.code) + " " + e.text }

var errTooLarge = errors.New("request headers too large")

// serveRequest runs the handler for req and finishes its response; it reports whether
// the connection may serve another request.
func (hc *hconn) serveRequest(req *http.Request) bool {
	w := &hc.res
	w.reset(req)
	var b *body
	if req.Body != http.NoBody && req.Body != nil {
		b = &body{rc: req.Body, hc: hc, cl: req.ContentLength, orig: req}
		req.Body = b
		w.body = b
	}
	if expect := req.Header["Expect"]; len(expect) > 0 && expect[0] != "" {
		if !hasToken(expect[0], "100-continue") { // net/http: the first value, its hasToken
			w.expectationFailed()
			return false
		}
		if b != nil && req.ProtoAtLeast(1, 1) && req.ContentLength != 0 {
			b.res, b.expect = w, true
			w.canContinue.Store(true)
		}
	}
	cancel := hc.cr.cancel // set when req already carries its context (leanParse)
	hc.cr.cancel = nil
	if cancel == nil {
		var ctx context.Context
		ctx, cancel = context.WithCancel(hc.ctx)
		req = req.WithContext(ctx)
	}
	req.RemoteAddr = hc.remote
	req.TLS = hc.tlsState
	w.req = req
	if b != nil {
		b.req = req
	}
	hc.watch.start(cancel, b == nil)

	ok := hc.callHandler(w, req)
	if hc.isHijacked() {
		hc.watch.stop()
		cancel()
		return false
	}
	if ok {
		w.finish()
	}
	if hc.watch.fired.Load() != 0 {
		w.closeAfter = true // cut reads or writes: what is left on the connection is unknown
	}
	hc.watch.stop()
	cancel()
	if b != nil {
		b.stop() // a read of the body still in flight ends here: the buffers are ours again
	}
	if !ok {
		return false
	}
	if !w.reusable() {
		if b != nil && b.unread() {
			hc.lingeringClose()
		}
		return false
	}
	if b != nil && !b.closeForReuse() {
		hc.lingeringClose()
		return false
	}
	return true
}

// callHandler runs the handler; false when it panicked. http.ErrAbortHandler aborts the
// response quietly; any other panic is logged with its stack.
func (hc *hconn) callHandler(w *response, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
			if p != http.ErrAbortHandler { //nolint:errorlint // net/http compares it so
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				hc.l.cfg.Logger.Error("panic serving request", "remote", hc.remote,
					"panic", fmt.Sprint(p), "stack", string(buf))
			}
		}
	}()
	if req.RequestURI == "*" && req.Method == http.MethodOptions {
		optionsStar(w, req)
		return true
	}
	hc.l.cfg.Handler.ServeHTTP(w, req)
	return true
}

// optionsStar answers "OPTIONS *" as http.Server does.
func optionsStar(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

func (hc *hconn) isHijacked() bool { return hc.hijacked.Load() }
