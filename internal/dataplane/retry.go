package dataplane

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Retry limits (design 0013).
const (
	// retryBufferLimit: a request body is kept while it streams to the upstream, up to this
	// size, so a retry or a mirror can replay it (Envoy buffers for retries and shadows
	// likewise, within its buffer limit); once more was read, the request is not retried
	// and a mirror still copying it fails.
	retryBufferLimit = 64 << 10
	// The retry budget of a cluster, as Envoy's retry_budget defaults: retries in progress
	// may be at most 20 % of its active requests, and at least 3.
	retryBudgetPercent     = 20
	retryBudgetMinInFlight = 3
	// Envoy's default back-off: 25 ms base, at most ten times the base.
	retryBaseInterval = 25 * time.Millisecond
)

// policyWriter sits between the proxy and the exchange's statusRecorder for a request with
// retries or CORS response headers. An attempt whose outcome is to be retried leaves no
// trace: its response head and body are discarded (retry set), or its failure is not
// answered (UpstreamFailed returns true). A response head that passes marks the response
// started: nothing after that is retried.
type policyWriter struct {
	rec *statusRecorder

	// Retries: pol is nil when the request is not retried.
	pol      *snapshot.Retry
	cluster  *upstream.Cluster
	routeCtx context.Context // the request's context with its route timeout
	left     int             // retries left after the current attempt
	body     *teeBody        // the request body, nil when there is none
	retry    bool            // the current attempt is to be retried
	final    bool            // the current attempt failed for good: the gateway's reply follows, never retried
	started  bool            // a final response head went to the client
	// The current attempt's failure flag and upstream status, for outlier detection.
	attemptFlag ResponseFlags
	attemptCode int

	// CORS response headers for an allowed origin (cors.go); cors nil: none.
	cors   *snapshot.CORS
	origin string

	retryOverflow bool // a retry was refused by the cluster's max_retries or budget
	retryHeld     bool // a retry of this request counts in cluster.Retrying
}

func (p *policyWriter) Header() http.Header { return p.rec.Header() }

func (p *policyWriter) Unwrap() http.ResponseWriter { return p.rec }

func (p *policyWriter) WriteHeader(code int) {
	if code >= 200 && p.attemptCode == 0 {
		p.attemptCode = code
	}
	if p.retry {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		p.rec.WriteHeader(code) // informational: does not commit the response
		return
	}
	if !p.started && !p.final && p.pol != nil && code != http.StatusSwitchingProtocols && retriableResponse(p.pol, code, p.rec.Header()) {
		if p.mayRetry() {
			p.retry = true
			clear(p.rec.Header())
			return
		}
	}
	p.started = true
	if p.cors != nil {
		corsResponseHeaders(p.rec.Header(), p.cors, p.origin)
	}
	p.rec.WriteHeader(code)
}

func (p *policyWriter) Write(b []byte) (int, error) {
	if p.retry {
		return len(b), nil
	}
	if !p.started {
		p.WriteHeader(http.StatusOK)
		if p.retry {
			return len(b), nil
		}
	}
	return p.rec.Write(b)
}

// FlushError flushes the client's response, never a discarded one.
func (p *policyWriter) FlushError() error {
	if p.retry || !p.started {
		return nil
	}
	return http.NewResponseController(p.rec.ResponseWriter).Flush()
}

// UpstreamFailed (upstream.FailureHandler) decides whether an upstream failure before a
// response head is retried.
func (p *policyWriter) UpstreamFailed(r *http.Request, err error) bool {
	flag := failureFlag(r.Context(), err)
	p.attemptFlag = flag
	p.rec.noteTransportFailure(err) // upstreamtls.go
	if p.pol == nil || (flag == FlagUpstreamRequestTimeout && p.routeCtx.Err() != nil) {
		// No retries, or the route timeout (not a per-try timeout): never retried.
		p.rec.flags |= flag
		p.final = true
		return false
	}
	if !p.started && retriableFailure(p.pol, flag) && p.mayRetry() {
		p.retry = true
		return true
	}
	p.rec.flags |= flag
	p.final = true
	return false
}

// mayRetry reports whether the outcome of the current attempt, which the policy retries,
// can be: retries left, a replayable request, room in the cluster's retry budget. It sets
// URX or UO when not.
func (p *policyWriter) mayRetry() bool {
	switch {
	case p.left <= 0:
		p.rec.flags |= FlagUpstreamRetryLimitExceeded
		return false
	case p.body != nil && !p.body.replayable():
		return false
	}
	limit := max(retryBudgetMinInFlight, p.cluster.Active.Load()*retryBudgetPercent/100)
	if n := maxRetries(p.cluster); n > 0 {
		limit = n // connectionPool.http.maxRetries: Envoy's max_retries instead of the budget
	}
	// As Envoy's RetryStateImpl: the retry this attempt was (if any) is over; the next one
	// is counted from this decision through its back-off and attempt until its outcome is
	// known or the request ends. Reserved atomically, so that requests failing together
	// cannot all pass the check before any of them counts.
	p.releaseRetry()
	if p.cluster.Retrying.Add(1) > limit {
		p.cluster.Retrying.Add(-1)
		p.rec.flags |= FlagUpstreamOverflow
		p.retryOverflow = true
		return false
	}
	p.retryHeld = true
	return true
}

// releaseRetry gives back the retry slot p holds, if any.
func (p *policyWriter) releaseRetry() {
	if p.retryHeld {
		p.retryHeld = false
		p.cluster.Retrying.Add(-1)
	}
}

// retriableResponse reports whether pol retries a response head (Envoy's
// wouldRetryFromHeaders).
func retriableResponse(pol *snapshot.Retry, code int, h http.Header) bool {
	on := pol.On
	switch {
	case on&snapshot.Retry5xx != 0 && code >= 500,
		on&snapshot.RetryGatewayError != 0 && (code == 502 || code == 503 || code == 504),
		on&snapshot.RetryRetriable4xx != 0 && code == http.StatusConflict,
		on&snapshot.RetryStatusCodes != 0 && slices.Contains(pol.StatusCodes, code):
		return true
	}
	if on&snapshot.RetryEnvoyRateLimited != 0 && h.Get("X-Envoy-Ratelimited") != "" {
		return true
	}
	const grpcOn = snapshot.RetryGRPCCancelled | snapshot.RetryGRPCDeadlineExceeded |
		snapshot.RetryGRPCInternal | snapshot.RetryGRPCResourceExhausted | snapshot.RetryGRPCUnavailable
	if on&grpcOn != 0 {
		if v, ok := h["Grpc-Status"]; ok && len(v) > 0 {
			switch v[0] {
			case "1":
				return on&snapshot.RetryGRPCCancelled != 0
			case "4":
				return on&snapshot.RetryGRPCDeadlineExceeded != 0
			case "8":
				return on&snapshot.RetryGRPCResourceExhausted != 0
			case "13":
				return on&snapshot.RetryGRPCInternal != 0
			case "14":
				return on&snapshot.RetryGRPCUnavailable != 0
			}
		}
	}
	return false
}

// retriableFailure reports whether pol retries a failure without a response head (Envoy's
// wouldRetryFromReset): connect failures under connect-failure, reset-before-request,
// reset, 5xx and gateway-error; resets and per-try timeouts under reset, 5xx and
// gateway-error.
func retriableFailure(pol *snapshot.Retry, flag ResponseFlags) bool {
	const anyReset = snapshot.Retry5xx | snapshot.RetryGatewayError | snapshot.RetryReset
	switch flag {
	case FlagUpstreamConnectionFailure:
		return pol.On&(anyReset|snapshot.RetryConnectFailure|snapshot.RetryResetBeforeRequest) != 0
	case FlagUpstreamRemoteReset, FlagUpstreamRequestTimeout:
		return pol.On&anyReset != 0
	}
	return false
}

// backoff is Envoy's jittered exponential back-off before retry n (1, 2, ...): uniform in
// [0, (2^n-1)·base), capped at ten times base.
func backoff(pol *snapshot.Retry, n int) time.Duration {
	base := retryBaseInterval
	if pol.BackoffMillis > 0 {
		base = time.Duration(pol.BackoffMillis) * time.Millisecond
	}
	limit := min(base*time.Duration((1<<min(n, 20))-1), 10*base)
	return rand.N(limit)
}

// forwardPolicies forwards with retries and mirrors (and CORS headers, in p). The route
// timeout starts once a buffered body has been read, as Envoy's.
func (d *Dataplane) forwardPolicies(p *policyWriter, r *http.Request, st *state, f *snapshot.Forward, pol *snapshot.Retry, cl *upstream.Cluster, k *upstream.Key, t *upstream.Target, timeout time.Duration) {
	var tee *teeBody
	if r.ContentLength != 0 || len(r.TransferEncoding) != 0 {
		tee = newTeeBody(r.Body)
		defer tee.finish()
	}
	if len(f.Mirrors) > 0 {
		d.mirror(r, st, f, t, tee)
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if pol.Retries <= 0 {
		p.pol = nil
	} else {
		p.pol = pol
	}
	p.cluster, p.routeCtx = cl, ctx
	p.body = tee
	p.retryOverflow, p.retryHeld = false, false
	defer func() {
		p.releaseRetry()
		if p.retryOverflow {
			d.proxy.Overflow(cl.Name, upstream.BreakerMaxRetries)
		}
	}()
	cl.Active.Add(1)
	defer cl.Active.Add(-1)
	var triedBuf [4]string
	tried := triedBuf[:0]
	for n := 0; ; n++ {
		p.retry, p.final, p.left = false, false, pol.Retries-n
		req := r
		actx, cancel := ctx, context.CancelFunc(nil)
		if pol.PerTryTimeoutMillis > 0 && pol.Retries > 0 {
			actx, cancel = context.WithTimeout(ctx, time.Duration(pol.PerTryTimeoutMillis)*time.Millisecond)
		}
		var body *teeReader
		if actx != r.Context() || tee != nil {
			req = r.WithContext(actx)
			if tee != nil {
				body = tee.reader(true)
				req.Body = body
			}
		}
		if n > 0 {
			clear(p.rec.Header()) // trailers the discarded attempt may have left
		}
		d.attempt(p, req, t)
		if cancel != nil {
			cancel()
		}
		if body != nil {
			_ = body.Close()
		}
		if !p.retry {
			return
		}
		tried = append(tried, t.Endpoint)
		if !sleepCtx(ctx, backoff(pol, n+1)) {
			p.retry = false
			if r.Context().Err() != nil {
				p.rec.flags |= FlagDownstreamConnectionTermination
				return
			}
			p.rec.flags |= FlagUpstreamRequestTimeout
			upstream.LocalReply(p.rec, r, http.StatusGatewayTimeout, "upstream request timeout")
			return
		}
		var ok bool
		if pol.SameHost {
			t.Endpoint, ok = cl.Pick(k)
		} else {
			t.Endpoint, ok = cl.PickOther(k, tried)
		}
		if !ok { // a snapshot's cluster keeps its endpoints; answered as forward does
			p.rec.flags |= FlagNoHealthyUpstream
			http.Error(p.rec, "no healthy upstream", http.StatusServiceUnavailable)
			return
		}
	}
}

// attempt forwards once. A response being discarded for a retry may fail mid-body; the
// proxy then aborts with http.ErrAbortHandler, which must not reach the client.
func (d *Dataplane) attempt(p *policyWriter, r *http.Request, t *upstream.Target) {
	p.attemptFlag, p.attemptCode = 0, 0
	defer func() {
		reportAttempt(p.cluster, t.Endpoint, p.attemptFlag, p.attemptCode)
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler && p.retry {
				return
			}
			panic(v)
		}
	}()
	d.proxy.Forward(p, r, t)
}

// sleepCtx waits d unless ctx ends first (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// teeBody is a request body sent to several attempts (and mirrors) while it streams in:
// everything read from the client is kept, up to retryBufferLimit, so a retry replays it
// from the start and a mirror gets its own copy. Only the current attempt's reader (the
// primary) reads from the client; a mirror's reader waits for what the primary has read.
// Past the limit nothing is kept: no further attempt, and a mirror still reading fails.
type teeBody struct {
	mu      sync.Mutex
	cond    sync.Cond
	rc      io.Reader
	buf     []byte
	reading bool       // a primary is in rc.Read (without the lock)
	over    bool       // more than retryBufferLimit was read: buf is no longer the whole body
	overBy  *teeReader // the reader that went past the limit: the only one that may go on
	err     error      // the client body's final error (io.EOF when complete)
}

func newTeeBody(rc io.Reader) *teeBody {
	b := &teeBody{rc: rc}
	b.cond.L = &b.mu
	return b
}

// replayable reports whether an attempt can be sent the whole body again: all of it read
// so far is kept, and the client's body has not failed (a client gone mid-body ends the
// request, as in Envoy).
func (b *teeBody) replayable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.over && (b.err == nil || b.err == io.EOF)
}

// finish ends the body for readers still waiting (a mirror): the request is done, so no
// more of it will be read.
func (b *teeBody) finish() {
	b.mu.Lock()
	if b.err == nil {
		b.err = errBodyGone
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// reader returns a reader of the body from its start. The primary (the current attempt)
// reads from the client when it has caught up; others wait for it.
func (b *teeBody) reader(primary bool) *teeReader { return &teeReader{b: b, primary: primary} }

type teeReader struct {
	b       *teeBody
	off     int
	primary bool
	closed  bool
}

var errBodyGone = errors.New("request body no longer available")

func (r *teeReader) Read(p []byte) (int, error) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		switch {
		case r.closed, b.over && b.overBy != r:
			return 0, errBodyGone
		case r.off < len(b.buf):
			n := copy(p, b.buf[r.off:])
			r.off += n
			return n, nil
		case b.err != nil:
			return 0, b.err
		case !r.primary || b.reading:
			b.cond.Wait()
			continue
		}
		b.reading = true
		b.mu.Unlock()
		n, err := b.rc.Read(p)
		b.mu.Lock()
		b.reading = false
		if n > 0 {
			switch {
			case b.over: // this reader went past the limit: nothing is kept
			case len(b.buf)+n <= retryBufferLimit:
				b.buf = append(b.buf, p[:n]...)
				r.off += n
			default:
				b.over, b.overBy, b.buf = true, r, nil
			}
		}
		if err != nil && b.err == nil {
			b.err = err
		}
		b.cond.Broadcast()
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Close ends this reader (the transport closes a request body when an attempt ends); the
// client's body itself is closed by the server.
func (r *teeReader) Close() error {
	r.b.mu.Lock()
	r.closed = true
	r.b.mu.Unlock()
	return nil
}

// grpcRequest reports whether r is a gRPC request (Envoy's Grpc::Common::isGrpcRequestHeaders).
func grpcRequest(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return len(ct) >= 16 && ct[:16] == "application/grpc" && (len(ct) == 16 || ct[16] == '+' || ct[16] == ';')
}

// routeTimeout is the request's timeout: the route's, or for a gRPC request with a
// grpc-timeout header that header's value capped by the route's (Istio sets Envoy's
// max_grpc_timeout to the route timeout, 0 meaning no cap). 0: none.
func routeTimeout(r *http.Request, f *snapshot.Forward) time.Duration {
	route := time.Duration(f.TimeoutMillis) * time.Millisecond
	v, ok := r.Header["Grpc-Timeout"]
	if !ok || len(v) == 0 || !grpcRequest(r) {
		return route
	}
	d, ok := parseGRPCTimeout(v[0])
	if !ok || (route > 0 && d > route) {
		return route
	}
	return max(d, 1) // a grpc-timeout of 0 is already expired: the shortest deadline
}

// parseGRPCTimeout parses the gRPC wire format: at most 8 digits and a unit (H, M, S, m,
// u, n).
func parseGRPCTimeout(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	units := [...]time.Duration{time.Hour, time.Minute, time.Second, time.Millisecond, time.Microsecond, time.Nanosecond}
	i := strings.IndexByte("HMSmun", s[len(s)-1])
	if i < 0 {
		return 0, false
	}
	unit := units[i]
	return time.Duration(n) * unit, true
}
