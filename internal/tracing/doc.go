// Package tracing exports the gateway's request spans with the OpenTelemetry SDK over
// OTLP (gRPC or HTTP), as Istio's OpenTelemetry tracing provider does: the incoming
// W3C traceparent/tracestate or B3 (single or multi header) context is continued, a span
// per request is sampled at a percentage (Istio's default 1 %; an incoming sampling
// decision is kept), and the upstream request carries the span's context in traceparent
// and B3 headers. Span attributes use Envoy's tracing tag names.
//
// With tracing off the data plane holds no Tracer and does nothing per request.
//
// Imports: go.opentelemetry.io/otel (attribute, codes, propagation, semconv, trace),
// go.opentelemetry.io/otel/sdk/resource, go.opentelemetry.io/otel/sdk/trace,
// go.opentelemetry.io/otel/exporters/otlp/otlptrace (and its otlptracegrpc and
// otlptracehttp), go.opentelemetry.io/contrib/propagators/b3, internal/accesslog, standard
// library.
package tracing
