package tracing_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/testkit/otlptest"
	"github.com/portcullis/portcullis/internal/tracing"
)

func TestSpanContinuesIncomingTraceparent(t *testing.T) {
	rcv := otlptest.Start(t)
	tr, err := tracing.New(context.Background(), tracing.Options{Endpoint: rcv.Addr, Insecure: true, Sampling: 0, NodeID: "gw-1"})
	if err != nil {
		t.Fatal(err)
	}
	const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest("GET", "https://www.example.com/api", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parent+"-01") // sampled upstream: kept despite 0 %
	out := tr.Start(req)
	fwd := out.Header.Get("Traceparent")
	if len(fwd) != 55 || fwd[3:35] != traceID || fwd[36:52] == parent {
		t.Fatalf("forwarded traceparent %q: want trace %s with the gateway's span as parent", fwd, traceID)
	}
	if out.Header.Get("X-B3-Traceid") != traceID || out.Header.Get("X-B3-Spanid") != fwd[36:52] {
		t.Errorf("B3 headers %v", out.Header)
	}
	tr.End(out, &accesslog.Entry{Method: "GET", Path: "/api", Authority: "www.example.com", Code: 503, Flags: "UH",
		UpstreamCluster: "outbound|80||be.ns.svc.cluster.local", UpstreamService: "be.ns.svc.cluster.local"})

	// A request without a context is not sampled at 0 %: no span.
	tr.End(tr.Start(httptest.NewRequest("GET", "/", nil)), &accesslog.Entry{Code: 200})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	spans := rcv.Spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans received, want 1", len(spans))
	}
	s := spans[0]
	if hex.EncodeToString(s.TraceId) != traceID || hex.EncodeToString(s.ParentSpanId) != parent || hex.EncodeToString(s.SpanId) != fwd[36:52] {
		t.Errorf("span trace %x parent %x id %x", s.TraceId, s.ParentSpanId, s.SpanId)
	}
	attrs := otlptest.Attrs(s)
	for k, v := range map[string]string{"http.method": "GET", "http.url": "https://www.example.com/api",
		"http.status_code": "503", "response_flags": "UH", "upstream_cluster": "outbound|80||be.ns.svc.cluster.local",
		"component": "proxy", "node_id": "gw-1"} {
		if attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
	if s.Name != "be.ns.svc.cluster.local/*" || s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("span name %q status %v", s.Name, s.Status)
	}
}

func TestB3SingleHeaderContinued(t *testing.T) {
	rcv := otlptest.Start(t)
	tr, err := tracing.New(context.Background(), tracing.Options{Endpoint: rcv.Addr, Insecure: true, Sampling: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("B3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")
	out := tr.Start(req)
	if got := out.Header.Get("Traceparent"); len(got) != 55 || got[3:35] != "80f198ee56343ba864fe8b2a57d3eff7" {
		t.Errorf("traceparent %q does not continue the b3 trace", got)
	}
	tr.End(out, &accesslog.Entry{Code: 200})
	_ = http.StatusOK
}

func TestRejectsBadOptions(t *testing.T) {
	for _, o := range []tracing.Options{{Endpoint: "x:1", Sampling: 101}, {Endpoint: "x:1", Protocol: "zipkin"}} {
		if _, err := tracing.New(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestSetSampling: the sampling percentage of new traces changes live (Telemetry's
// randomSamplingPercentage); the flags of the propagated traceparent show the decision.
func TestSetSampling(t *testing.T) {
	rcv := otlptest.Start(t)
	tr, err := tracing.New(context.Background(), tracing.Options{Endpoint: rcv.Addr, Insecure: true, Sampling: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	flags := func() string {
		out := tr.Start(httptest.NewRequest("GET", "/", nil))
		tr.End(out, &accesslog.Entry{Code: 200})
		tp := out.Header.Get("Traceparent")
		if len(tp) != 55 {
			t.Fatalf("traceparent %q", tp)
		}
		return tp[53:]
	}
	if f := flags(); f != "00" {
		t.Fatalf("at 0 %%: flags %s, want 00 (not sampled)", f)
	}
	if err := tr.SetSampling(100); err != nil {
		t.Fatal(err)
	}
	if f := flags(); f != "01" {
		t.Fatalf("at 100 %%: flags %s, want 01 (sampled)", f)
	}
	if err := tr.SetSampling(101); err == nil {
		t.Fatal("101 %% accepted")
	}
}
