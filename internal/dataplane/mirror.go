package dataplane

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Mirror bounds (design 0013).
const (
	// maxMirrorsInFlight: mirrored requests outstanding at once, gateway-wide; a mirror
	// over the bound is dropped (and counted), never waited for.
	maxMirrorsInFlight = 128
	// mirrorTimeout bounds a mirrored request of a route without a timeout.
	mirrorTimeout = 60 * time.Second
)

// mirrorStats counts mirrored requests: sent, and dropped (over the in-flight bound, or no
// endpoint).
type mirrorStats struct {
	inFlight      atomic.Int64
	sent, dropped atomic.Uint64
}

// mirror sends a copy of r, as it is forwarded to t, to each of f's mirror clusters whose
// fraction draws it, fire and forget: the copy runs on its own goroutine with its own
// deadline and its response is discarded. The Host is the one the main request carries
// (Istio 1.28 and later add no "-shadow" suffix). The body, as the main request reads it
// from the client, is copied from body (nil: none); a body over retryBufferLimit fails the
// mirror, never the main request.
func (d *Dataplane) mirror(r *http.Request, st *state, f *snapshot.Forward, t *upstream.Target, body *teeBody) {
	for i := range f.Mirrors {
		m := &f.Mirrors[i]
		if !drawn(m.Fraction) {
			continue
		}
		mcl := st.clusters.Get(m.Cluster)
		mk := d.pickKey(r)
		ep, ok := mcl.Pick(&mk)
		if !ok {
			d.policy.mirrors.dropped.Add(1)
			continue
		}
		if d.policy.mirrors.inFlight.Add(1) > maxMirrorsInFlight {
			d.policy.mirrors.inFlight.Add(-1)
			d.policy.mirrors.dropped.Add(1)
			continue
		}
		d.policy.mirrors.sent.Add(1)
		timeout := mirrorTimeout
		if f.TimeoutMillis > 0 {
			timeout = time.Duration(f.TimeoutMillis) * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
		mr := r.Clone(ctx)
		mr.Body = http.NoBody
		if body != nil {
			mr.Body = body.reader(false)
		}
		mt := *t
		mt.Endpoint, mt.Cluster = ep, mcl
		go func() {
			defer d.policy.mirrors.inFlight.Add(-1)
			defer cancel()
			defer func() { _ = recover() }() // a failed copy aborts with http.ErrAbortHandler
			dw := &discardWriter{h: http.Header{}}
			defer func() { reportAttempt(mcl, ep, dw.flag, dw.code) }() // counted as Envoy counts shadows
			d.proxy.Forward(dw, mr, &mt)
		}()
	}
}

// discardWriter takes a mirrored response and drops it, keeping its status and failure
// for outlier detection.
type discardWriter struct {
	h    http.Header
	code int
	flag ResponseFlags
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(c int) {
	if w.code == 0 && c >= 200 {
		w.code = c
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// UpstreamFailed (upstream.FailureHandler) keeps the failure's response flag.
func (w *discardWriter) UpstreamFailed(r *http.Request, err error) bool {
	w.flag = failureFlag(r.Context(), err)
	return false
}
