package dataplane

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// faultAbortBody is Envoy's fault filter's local reply body.
const faultAbortBody = "fault filter abort"

// fault injects a route's delay, then its abort, each drawn independently, as Envoy's
// fault filter. done is true when the request was answered (aborted) or its client left
// during the delay.
func fault(w http.ResponseWriter, rec *statusRecorder, r *http.Request, f *snapshot.Fault) (done bool) {
	if dl := f.Delay; dl != nil && drawn(dl.Fraction) {
		rec.flags |= FlagDelayInjected
		if !sleepCtx(r.Context(), time.Duration(dl.DelayMillis)*time.Millisecond) {
			rec.flags |= FlagDownstreamConnectionTermination
			return true
		}
	}
	ab := f.Abort
	if ab == nil || !drawn(ab.Fraction) {
		return false
	}
	rec.flags |= FlagFaultInjected
	h := w.Header()
	if ab.GRPCStatus >= 0 {
		if grpcRequest(r) {
			// A gRPC local reply: 200, trailers-only (grpc-status in the head, no body).
			h.Set("Content-Type", "application/grpc")
			h.Set("Grpc-Status", strconv.Itoa(ab.GRPCStatus))
			h.Set("Grpc-Message", faultAbortBody)
			w.WriteHeader(http.StatusOK)
			return true
		}
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK) // Envoy answers a gRPC abort of a non-gRPC request 200
		_, _ = io.WriteString(w, faultAbortBody)
		return true
	}
	h.Set("Content-Type", "text/plain")
	w.WriteHeader(ab.HTTPStatus)
	_, _ = io.WriteString(w, faultAbortBody)
	return true
}

// drawn reports whether a request falls in fraction (millionths), as Envoy's
// featureEnabled with a FractionalPercent.
func drawn(fraction snapshot.PerMillion) bool {
	if fraction >= snapshot.Million {
		return true
	}
	return fraction > 0 && rand.Uint32N(uint32(snapshot.Million)) < uint32(fraction)
}

// filters runs a route's CORS and fault filters, in Istio's filter order (CORS first). It
// returns the writer the route's action answers through, or nil when the request was
// answered.
func (d *Dataplane) filters(e *exchange, r *http.Request, rt *snapshot.Route) http.ResponseWriter {
	var w http.ResponseWriter = &e.statusRecorder
	if rt.CORS != nil {
		if d.cors(e, r, rt.CORS) {
			return nil
		}
		if e.policy.cors != nil {
			e.policy.rec = &e.statusRecorder
			w = &e.policy
		}
	}
	if rt.Fault != nil && fault(w, &e.statusRecorder, r, rt.Fault) {
		return nil
	}
	return w
}
