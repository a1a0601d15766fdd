package dataplane

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestTeeBodyReplayAndMirror(t *testing.T) {
	src := strings.Repeat("abcdefgh", 1000)
	tee := newTeeBody(strings.NewReader(src))
	mirror := tee.reader(false)
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(mirror)
		got <- string(b)
	}()
	first := tee.reader(true)
	head := make([]byte, 100)
	if _, err := io.ReadFull(first, head); err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	if _, err := first.Read(head); err == nil {
		t.Error("a closed attempt's reader still reads")
	}
	if !tee.replayable() {
		t.Fatal("8000 bytes are within the limit")
	}
	second := tee.reader(true)
	all, err := io.ReadAll(second)
	if err != nil || string(all) != src {
		t.Fatalf("replay: %d bytes, %v", len(all), err)
	}
	if m := <-got; m != src {
		t.Errorf("mirror copy: %d bytes", len(m))
	}
}

func TestTeeBodyOverLimit(t *testing.T) {
	src := bytes.Repeat([]byte("x"), retryBufferLimit+10)
	tee := newTeeBody(bytes.NewReader(src))
	mirror := tee.reader(false)
	r := tee.reader(true)
	all, err := io.ReadAll(r)
	if err != nil || len(all) != len(src) {
		t.Fatalf("the attempt past the limit must still get the whole body: %d, %v", len(all), err)
	}
	if tee.replayable() {
		t.Error("a body over the limit is replayable")
	}
	if _, err := io.ReadAll(mirror); !errors.Is(err, errBodyGone) {
		t.Errorf("mirror of a body over the limit: %v, want errBodyGone", err)
	}
}

func TestTeeBodyFinishReleasesMirror(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	tee := newTeeBody(pr)
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(tee.reader(false))
		done <- err
	}()
	tee.finish()
	select {
	case err := <-done:
		if !errors.Is(err, errBodyGone) {
			t.Errorf("got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a mirror waiting for a body nobody reads was not released")
	}
}

func TestResponseFlags(t *testing.T) {
	if s := (FlagUpstreamRequestTimeout | FlagUpstreamRetryLimitExceeded).String(); s != "UT,URX" {
		t.Errorf("String: %q", s)
	}
	if s := ResponseFlags(0).String(); s != "-" {
		t.Errorf("no flags: %q", s)
	}
	ctx := context.Background()
	dial := &net.OpError{Op: "dial", Err: errors.New("refused")}
	for _, c := range []struct {
		ctx  context.Context
		err  error
		want ResponseFlags
	}{
		{ctx, dial, FlagUpstreamConnectionFailure},
		{ctx, context.DeadlineExceeded, FlagUpstreamRequestTimeout},
		{ctx, io.ErrUnexpectedEOF, FlagUpstreamRemoteReset},
		{canceled(), io.ErrUnexpectedEOF, FlagDownstreamConnectionTermination},
	} {
		if got := failureFlag(c.ctx, c.err); got != c.want {
			t.Errorf("failureFlag(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// The flags of retry outcomes: URX when the retries are used up, UO when the cluster's
// retry budget is, and none on a passing response.
func TestPolicyWriterFlags(t *testing.T) {
	pol := &snapshot.Retry{Retries: 2, On: snapshot.RetryGatewayError}
	newWriter := func(left int, active, retrying int64) (*policyWriter, *httptest.ResponseRecorder) {
		rr := httptest.NewRecorder()
		cl := &upstream.Cluster{}
		cl.Active.Store(active)
		cl.Retrying.Store(retrying)
		return &policyWriter{rec: &statusRecorder{ResponseWriter: rr}, pol: pol, cluster: cl, routeCtx: context.Background(), left: left}, rr
	}
	p, rr := newWriter(1, 1, 0)
	p.WriteHeader(503)
	if !p.retry || rr.Code != 200 || rr.Body.Len() != 0 || p.rec.flags != 0 {
		t.Errorf("retriable 503 with a retry left: retry=%v flags=%v", p.retry, p.rec.flags)
	}
	p, rr = newWriter(0, 1, 0)
	p.WriteHeader(503)
	if p.retry || rr.Code != 503 || p.rec.flags != FlagUpstreamRetryLimitExceeded {
		t.Errorf("last attempt: retry=%v code=%d flags=%v, want 503 URX", p.retry, rr.Code, p.rec.flags)
	}
	p, rr = newWriter(1, 10, 3) // budget: max(3, 20 % of 10) = 3 retries in flight
	p.WriteHeader(503)
	if p.retry || rr.Code != 503 || p.rec.flags != FlagUpstreamOverflow {
		t.Errorf("budget exhausted: retry=%v code=%d flags=%v, want 503 UO", p.retry, rr.Code, p.rec.flags)
	}
	p, _ = newWriter(1, 1, 0)
	req := httptest.NewRequest("GET", "/", nil)
	if !p.UpstreamFailed(req, &net.OpError{Op: "dial", Err: errors.New("refused")}) || !p.retry {
		t.Error("a connect failure under gateway-error is retried")
	}
	p, _ = newWriter(1, 1, 0)
	p.WriteHeader(200)
	p.WriteHeader(503) // ignored by net/http too; must not turn into a retry
	if p.retry || !p.started || p.rec.flags != 0 {
		t.Errorf("a started response: retry=%v", p.retry)
	}
}

func TestFaultFlags(t *testing.T) {
	rr := httptest.NewRecorder()
	rec := &statusRecorder{ResponseWriter: rr}
	f := &snapshot.Fault{Delay: &snapshot.FaultDelay{DelayMillis: 1, Fraction: snapshot.Million},
		Abort: &snapshot.FaultAbort{HTTPStatus: 500, GRPCStatus: -1, Fraction: snapshot.Million}}
	if !fault(rec, rec, httptest.NewRequest("GET", "/", nil), f) {
		t.Fatal("not aborted")
	}
	if rec.flags != FlagDelayInjected|FlagFaultInjected || rr.Code != 500 || rr.Body.String() != faultAbortBody {
		t.Errorf("flags %v, %d %q", rec.flags, rr.Code, rr.Body.String())
	}
}

func TestBackoff(t *testing.T) {
	pol := &snapshot.Retry{}
	for n := 1; n <= 6; n++ {
		limit := min(retryBaseInterval*time.Duration((1<<n)-1), 10*retryBaseInterval)
		for range 100 {
			if d := backoff(pol, n); d < 0 || d >= limit {
				t.Fatalf("backoff(%d) = %v, want in [0, %v)", n, d, limit)
			}
		}
	}
}

var _ http.ResponseWriter = (*policyWriter)(nil)

func TestGRPCTimeout(t *testing.T) {
	f := &snapshot.Forward{TimeoutMillis: 2000}
	grpc := func(v string) *http.Request {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", "application/grpc+proto")
		if v != "" {
			r.Header.Set("Grpc-Timeout", v)
		}
		return r
	}
	for _, c := range []struct {
		r     *http.Request
		route int64
		want  time.Duration
	}{
		{grpc("500m"), 2000, 500 * time.Millisecond},
		{grpc("1M"), 2000, 2 * time.Second}, // capped by the route's
		{grpc("1M"), 0, time.Minute},        // no route timeout: no cap
		{grpc("bogus"), 2000, 2 * time.Second},
		{grpc(""), 0, 0},
		{httptest.NewRequest("GET", "/", nil), 0, 0},
	} {
		f.TimeoutMillis = c.route
		if got := routeTimeout(c.r, f); got != c.want {
			t.Errorf("grpc-timeout %q, route %d ms: %v, want %v", c.r.Header.Get("Grpc-Timeout"), c.route, got, c.want)
		}
	}
}

func TestTeeBodyClientFailureNotReplayable(t *testing.T) {
	tee := newTeeBody(io.MultiReader(strings.NewReader("part"), errReader{}))
	if _, err := io.ReadAll(tee.reader(true)); err == nil {
		t.Fatal("the client's body error did not reach the attempt")
	}
	if tee.replayable() {
		t.Error("a body whose client failed is replayable")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
