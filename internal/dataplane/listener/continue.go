package listener

import "net/http"

// expectationFailed answers an Expect other than 100-continue (RFC 9110 10.1.1).
func (w *response) expectationFailed() {
	w.header.Set("Connection", "close")
	w.WriteHeader(http.StatusExpectationFailed)
	w.finish()
}

// writeContinue sends "100 Continue" unless the handler already answered.
func (w *response) writeContinue() {
	if !w.canContinue.Load() {
		return
	}
	w.contMu.Lock()
	defer w.contMu.Unlock()
	if w.canContinue.Load() {
		_, _ = w.hc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		_ = w.hc.bw.Flush()
		w.canContinue.Store(false)
	}
}

// disableContinue stops the body from sending a 100 Continue (waiting for one being
// written), so that the handler's goroutine may use the connection's writer.
func (w *response) disableContinue() {
	if w.canContinue.Load() {
		w.contMu.Lock()
		w.canContinue.Store(false)
		w.contMu.Unlock()
	}
}
