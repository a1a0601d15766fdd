package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/accesslog"
)

// DefaultSampling is Istio's default random sampling percentage.
const DefaultSampling = 1.0

// Options configure the exporter.
type Options struct {
	// Endpoint is the OTLP collector: "host:port" for grpc, a URL or "host:port" for http.
	Endpoint string
	// Protocol is "grpc" (default) or "http" (OTLP/HTTP protobuf, path /v1/traces).
	Protocol string
	// Sampling is the percentage of new traces sampled, 0–100.
	Sampling float64
	// Insecure uses plain-text to the collector (the usual in-cluster collector).
	Insecure bool
	// ServiceName and NodeID name this gateway (service.name, Envoy's node_id tag).
	ServiceName, NodeID, Namespace string
}

// Tracer starts and ends the spans of requests.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	attrs  []attribute.KeyValue // fixed per process
	// sampler decides new traces; SetSampling changes its ratio.
	sampler *ratioSampler
}

// New builds a Tracer exporting to o.Endpoint in batches.
func New(ctx context.Context, o Options) (*Tracer, error) {
	if o.Sampling < 0 || o.Sampling > 100 {
		return nil, fmt.Errorf("tracing sampling %v: want a percentage 0-100", o.Sampling)
	}
	var client otlptrace.Client
	switch o.Protocol {
	case "grpc", "":
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(o.Endpoint)}
		if o.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		client = otlptracegrpc.NewClient(opts...)
	case "http":
		var opts []otlptracehttp.Option
		if strings.Contains(o.Endpoint, "://") {
			opts = append(opts, otlptracehttp.WithEndpointURL(o.Endpoint))
		} else {
			opts = append(opts, otlptracehttp.WithEndpoint(o.Endpoint))
		}
		if o.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		client = otlptracehttp.NewClient(opts...)
	default:
		return nil, fmt.Errorf("tracing protocol %q: want grpc or http", o.Protocol)
	}
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, err
	}
	if o.ServiceName == "" {
		o.ServiceName = "portcullis"
	}
	res := resource.NewSchemaless(semconv.ServiceName(o.ServiceName))
	sampler := &ratioSampler{}
	sampler.set(o.Sampling)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sampler)),
	)
	t := &Tracer{
		sampler: sampler,
		tp:      tp,
		tracer:  tp.Tracer("github.com/portcullis/portcullis"),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{},
			b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader))),
		attrs: []attribute.KeyValue{attribute.String("component", "proxy")},
	}
	if o.NodeID != "" {
		t.attrs = append(t.attrs, attribute.String("node_id", o.NodeID))
	}
	if o.Namespace != "" {
		t.attrs = append(t.attrs, attribute.String("istio.namespace", o.Namespace))
	}
	return t, nil
}

// Start continues the request's incoming trace context in a new span and returns the
// request the proxy forwards: its headers carry the span's context.
func (t *Tracer) Start(r *http.Request) *http.Request {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, _ = t.tracer.Start(ctx, "ingress", trace.WithSpanKind(trace.SpanKindServer))
	r2 := r.WithContext(ctx)
	r2.Header = r.Header.Clone()
	for _, h := range []string{"Traceparent", "Tracestate", "B3", "X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-B3-Flags"} {
		delete(r2.Header, h)
	}
	t.prop.Inject(ctx, propagation.HeaderCarrier(r2.Header))
	return r2
}

// End ends the request's span with what the access log knows of it.
func (t *Tracer) End(r *http.Request, e *accesslog.Entry) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		span.End()
		return
	}
	name := "unknown"
	if e.UpstreamService != "" {
		name = e.UpstreamService + "/*"
	}
	span.SetName(name)
	span.SetAttributes(t.attrs...)
	span.SetAttributes(
		attribute.String("guid:x-request-id", e.RequestID),
		attribute.String("http.url", scheme(r)+"://"+e.Authority+e.Path),
		attribute.String("http.method", e.Method),
		attribute.String("http.protocol", e.Protocol),
		attribute.String("downstream_cluster", "-"),
		attribute.String("user_agent", orDash(e.UserAgent)),
		attribute.String("peer.address", e.DownstreamRemote),
		attribute.Int64("request_size", e.BytesReceived),
		attribute.Int64("response_size", e.BytesSent),
		attribute.String("upstream_cluster", orDash(e.UpstreamCluster)),
		attribute.String("upstream_cluster.name", orDash(e.UpstreamCluster)),
		attribute.String("http.status_code", strconv.Itoa(e.Code)),
		attribute.String("response_flags", e.Flags),
	)
	if e.UpstreamHost != "" {
		span.SetAttributes(attribute.String("upstream_address", e.UpstreamHost))
	}
	if e.Code >= 500 || e.Code == 0 {
		span.SetAttributes(attribute.Bool("error", true))
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// Shutdown exports what is buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ratioSampler is the SDK's TraceIDRatioBased sampler for new traces, replaceable while
// spans are being started (a Telemetry resource's randomSamplingPercentage).
type ratioSampler struct {
	cur atomic.Pointer[sdktrace.Sampler]
}

func (s *ratioSampler) set(percent float64) {
	r := sdktrace.TraceIDRatioBased(percent / 100)
	s.cur.Store(&r)
}

func (s *ratioSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return (*s.cur.Load()).ShouldSample(p)
}

func (s *ratioSampler) Description() string { return (*s.cur.Load()).Description() }

// SetSampling sets the percentage (0-100) of new traces sampled from now on; traces with a
// sampled parent stay sampled (parent-based, as Envoy honours an upstream decision).
func (t *Tracer) SetSampling(percent float64) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("tracing sampling %v: want a percentage 0-100", percent)
	}
	t.sampler.set(percent)
	return nil
}
