package fieldspec

import (
	telemetry "istio.io/api/telemetry/v1alpha1"
)

// Declarations of telemetry.istio.io (v1alpha1; v1 aliases the same messages): Telemetry,
// translated by internal/telemetry into the access log on/off and the tracing sampling.
func init() {
	AddRoot("Telemetry", (&telemetry.Telemetry{}).ProtoReflect().Descriptor())

	impl := func(note string) Rule { return Rule{Status: Implemented, Reason: note} }
	rej := func(reason string) Rule { return Rule{Status: Rejected, Reason: reason} }
	const notTargeted = "targetRef(s) attach a Telemetry to a Kubernetes Gateway API Gateway or a Service, never to an Istio Gateway workload, so it does not apply here (as in Istio; warning)"
	const mode = "a gateway is Istio's CLIENT side: CLIENT and CLIENT_AND_SERVER (the default) apply, SERVER does not"
	const noExt = "portcullis has no meshConfig extensionProviders: a provider other than the built-in one is an error and the entry is not applied"

	Declare("istio.telemetry.v1alpha1.Telemetry", Message{
		"selector":       impl("no selector: the Telemetry of --root-namespace, then of the gateway's --namespace; with a selector (gateway's namespace only) matched against --labels; the more specific overrides"),
		"targetRef":      impl(notTargeted),
		"targetRefs":     impl(notTargeted),
		"access_logging": impl("the access log in Istio's text format to stdout, turned on or off live; --access-log, when set, wins"),
		"tracing":        impl("the sampling percentage of new traces, live; needs --tracing-endpoint"),
		"metrics":        impl("the built-in prometheus provider only: Istio's standard metrics stay as --istio-metrics sets them"),
	})
	Declare("istio.telemetry.v1alpha1.ProviderRef", Message{
		"name": impl("envoy (access log), prometheus (metrics), none for tracing's default; " + noExt),
	})
	Declare("istio.telemetry.v1alpha1.AccessLogging", Message{
		"match":     impl(mode),
		"providers": impl("envoy or none (the default): Envoy's text log to stdout; " + noExt),
		"disabled":  impl("turns the access log off"),
		"filter":    rej("CEL expressions need a CEL evaluator portcullis does not have: the entry is an error and is not applied"),
	})
	Declare("istio.telemetry.v1alpha1.AccessLogging.LogSelector", Message{"mode": impl(mode)})
	Declare("istio.telemetry.v1alpha1.AccessLogging.Filter", Message{
		"expression": rej("no CEL evaluator: the entry is an error and is not applied"),
	})
	Declare("istio.telemetry.v1alpha1.Tracing", Message{
		"match":                             impl(mode),
		"providers":                         rej("only the default provider (the OTLP exporter of --tracing-endpoint); " + noExt),
		"random_sampling_percentage":        impl("percentage of new traces sampled (parent-based), set live; a warning without --tracing-endpoint"),
		"disable_span_reporting":            rej("not supported (true is an error; use randomSamplingPercentage: 0)"),
		"custom_tags":                       rej("spans carry portcullis's fixed attributes; the entry is an error"),
		"use_request_id_for_trace_sampling": {Status: NoEffect, Reason: "portcullis samples on the trace id (OpenTelemetry's TraceIDRatioBased), never on x-request-id (warning)"},
		"enable_istio_tags":                 rej("spans always carry Istio's attributes: false is an error"),
		"disable_context_propagation":       rej("W3C and B3 context is always propagated: true is an error"),
	})
	Declare("istio.telemetry.v1alpha1.Tracing.TracingSelector", Message{"mode": impl(mode)})
	const tags = "custom tags are not supported"
	Declare("istio.telemetry.v1alpha1.Tracing.CustomTag", Message{
		"literal": rej(tags), "environment": rej(tags), "header": rej(tags), "formatter": rej(tags),
	})
	Declare("istio.telemetry.v1alpha1.Tracing.Literal", Message{"value": rej(tags)})
	Declare("istio.telemetry.v1alpha1.Tracing.Environment", Message{"name": rej(tags), "default_value": rej(tags)})
	Declare("istio.telemetry.v1alpha1.Tracing.RequestHeader", Message{"name": rej(tags), "default_value": rej(tags)})
	Declare("istio.telemetry.v1alpha1.Tracing.Formatter", Message{"value": rej(tags)})
	Declare("istio.telemetry.v1alpha1.Metrics", Message{
		"providers":          impl("prometheus or none (the default); " + noExt),
		"overrides":          rej("metric overrides are not supported: Istio's standard metrics are on or off by --istio-metrics, with Istio's labels"),
		"reporting_interval": {Status: NoEffect, Reason: "Prometheus metrics are computed when scraped (warning)"},
	})
	const ovr = "metric overrides are not supported"
	Declare("istio.telemetry.v1alpha1.MetricsOverrides", Message{
		"match": rej(ovr), "disabled": rej(ovr), "tag_overrides": rej(ovr),
	})
	Declare("istio.telemetry.v1alpha1.MetricSelector", Message{
		"metric": rej(ovr), "custom_metric": rej(ovr), "mode": rej(ovr),
	})
	Declare("istio.telemetry.v1alpha1.MetricsOverrides.TagOverride", Message{
		"operation": rej(ovr), "value": rej(ovr),
	})
}
