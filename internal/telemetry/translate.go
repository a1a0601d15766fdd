package telemetry

import (
	"fmt"

	telemetry "istio.io/api/telemetry/v1alpha1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Options describe the gateway workload the Telemetry resources are selected for: the
// same as the security policies' (Telemetry is scoped like them).
type Options = authz.Options

const (
	kind = "Telemetry"
	// envoyProvider is Istio's built-in access log provider: Envoy's text log to stdout.
	envoyProvider = "envoy"
	// prometheusProvider is Istio's built-in (and default) metrics provider.
	prometheusProvider = "prometheus"
)

type translator struct {
	opts  Options
	diags []diag.Diagnostic
	out   snapshot.Telemetry
}

func (t *translator) add(sev diag.Severity, m *resources.Meta, field, format string, args ...any) {
	t.diags = append(t.diags, m.Diagnostic(sev, kind, field, fmt.Sprintf(format, args...)))
}

// Translate selects the Telemetry resources of b that apply to the gateway and merges them;
// nil when none sets anything.
func Translate(b *resources.Bundle, opts Options) (*snapshot.Telemetry, []diag.Diagnostic) {
	if opts.RootNamespace == "" {
		opts.RootNamespace = authz.DefaultRootNamespace
	}
	t := &translator{opts: opts}
	for _, tel := range t.levels(b.Telemetries) {
		t.apply(tel)
	}
	if t.out == (snapshot.Telemetry{}) {
		return nil, t.diags
	}
	out := t.out
	return &out, t.diags
}

// levels returns the Telemetry resources that apply, least specific first, as Istio: the
// root namespace's without selector, then the gateway namespace's without selector, then
// the first in the gateway's namespace whose selector the gateway's labels include. Where
// Istio would pick one of several at a level (the oldest), the first in source order is
// used and the others are reported.
func (t *translator) levels(tels []resources.Telemetry) []*resources.Telemetry {
	var root, ns, workload *resources.Telemetry
	pick := func(cur **resources.Telemetry, tel *resources.Telemetry, level string) {
		if *cur != nil {
			t.add(diag.Warning, &tel.Meta, "", "another Telemetry (%s/%s) already applies at the %s level; Istio applies only one per level; ignored", (*cur).Namespace, (*cur).Name, level)
			return
		}
		*cur = tel
	}
	for i := range tels {
		tel := &tels[i]
		s := tel.Spec
		if tel.Namespace != t.opts.RootNamespace && tel.Namespace != t.opts.Namespace {
			continue
		}
		if len(s.GetTargetRefs()) > 0 || s.GetTargetRef() != nil {
			t.add(diag.Warning, &tel.Meta, "spec.targetRefs", "targetRefs attach a Telemetry to a Kubernetes Gateway API Gateway or a Service, not to an Istio Gateway workload such as this one; not applied (as in Istio)")
			continue
		}
		sel := s.GetSelector().GetMatchLabels()
		switch {
		case len(sel) == 0 && tel.Namespace == t.opts.RootNamespace:
			pick(&root, tel, "root namespace")
		case len(sel) == 0:
			pick(&ns, tel, "namespace")
		case tel.Namespace == t.opts.Namespace && labels.SelectorFromSet(sel).Matches(labels.Set(t.opts.Labels)):
			pick(&workload, tel, "workload")
		}
	}
	var out []*resources.Telemetry
	for _, tel := range []*resources.Telemetry{root, ns, workload} {
		if tel != nil {
			out = append(out, tel)
		}
	}
	return out
}

// appliesAtGateway: Istio treats a gateway's listeners as the CLIENT side
// (pilot/pkg/model/telemetry.go), so CLIENT and CLIENT_AND_SERVER (the default) apply and
// SERVER does not.
func appliesAtGateway(m telemetry.WorkloadMode) bool {
	return m != telemetry.WorkloadMode_SERVER
}

func (t *translator) apply(tel *resources.Telemetry) {
	for i, al := range tel.Spec.GetAccessLogging() {
		t.accessLogging(tel, fmt.Sprintf("spec.accessLogging[%d]", i), al)
	}
	for i, tr := range tel.Spec.GetTracing() {
		t.tracing(tel, fmt.Sprintf("spec.tracing[%d]", i), tr)
	}
	for i, m := range tel.Spec.GetMetrics() {
		t.metrics(tel, fmt.Sprintf("spec.metrics[%d]", i), m)
	}
}

// providers checks that every provider is want (Istio's built-in one): portcullis has no
// meshConfig extensionProviders. No providers means the default provider, which is want.
func (t *translator) providers(tel *resources.Telemetry, field string, ps []*telemetry.ProviderRef, want, what string) bool {
	for j, p := range ps {
		if p.GetName() != want {
			builtin := fmt.Sprintf("only Istio's built-in %q", want)
			if want == "" {
				builtin = "only the default provider (the OTLP exporter of --tracing-endpoint), named by no providers"
			}
			t.add(diag.Error, &tel.Meta, fmt.Sprintf("%s.providers[%d].name", field, j), "%s provider %q is not supported: portcullis has no meshConfig extensionProviders, %s; this %s entry is not applied", what, p.GetName(), builtin, what)
			return false
		}
	}
	return true
}

func (t *translator) accessLogging(tel *resources.Telemetry, field string, al *telemetry.AccessLogging) {
	if !appliesAtGateway(al.GetMatch().GetMode()) {
		return
	}
	if al.GetFilter() != nil {
		t.add(diag.Error, &tel.Meta, field+".filter", "access log filter expressions (CEL) are not supported: portcullis has no CEL evaluator; this access log entry is not applied (the access log stays as the flags set it)")
		return
	}
	if !t.providers(tel, field, al.GetProviders(), envoyProvider, "access log") {
		return
	}
	on := !al.GetDisabled().GetValue()
	t.out.AccessLog = &on
}

func (t *translator) tracing(tel *resources.Telemetry, field string, tr *telemetry.Tracing) {
	if !appliesAtGateway(tr.GetMatch().GetMode()) {
		return
	}
	ok := t.providers(tel, field, tr.GetProviders(), "", "tracing")
	if tr.GetDisableSpanReporting().GetValue() {
		t.add(diag.Error, &tel.Meta, field+".disableSpanReporting", "disableSpanReporting is not supported; this tracing entry is not applied (use randomSamplingPercentage: 0)")
		ok = false
	}
	if len(tr.GetCustomTags()) > 0 {
		t.add(diag.Error, &tel.Meta, field+".customTags", "customTags are not supported: spans carry portcullis's fixed attributes; this tracing entry is not applied")
		ok = false
	}
	if tr.GetDisableContextPropagation().GetValue() {
		t.add(diag.Error, &tel.Meta, field+".disableContextPropagation", "disableContextPropagation is not supported: portcullis always propagates W3C and B3 trace context; this tracing entry is not applied")
		ok = false
	}
	if tr.GetEnableIstioTags() != nil && !tr.GetEnableIstioTags().GetValue() {
		t.add(diag.Error, &tel.Meta, field+".enableIstioTags", "enableIstioTags: false is not supported: spans always carry Istio's attributes; this tracing entry is not applied")
		ok = false
	}
	if tr.GetUseRequestIdForTraceSampling() != nil {
		t.add(diag.Warning, &tel.Meta, field+".useRequestIdForTraceSampling", "no effect: portcullis samples new traces on the trace id (OpenTelemetry's TraceIDRatioBased), never on x-request-id")
	}
	if !ok {
		return
	}
	if p := tr.GetRandomSamplingPercentage(); p != nil {
		v := p.GetValue()
		if v < 0 || v > 100 {
			t.add(diag.Error, &tel.Meta, field+".randomSamplingPercentage", "%v is not a percentage 0-100; not applied", v)
			return
		}
		t.out.Sampling = &v
	}
}

func (t *translator) metrics(tel *resources.Telemetry, field string, m *telemetry.Metrics) {
	if !t.providers(tel, field, m.GetProviders(), prometheusProvider, "metrics") {
		return
	}
	if m.GetReportingInterval() != nil {
		t.add(diag.Warning, &tel.Meta, field+".reportingInterval", "no effect: portcullis's Prometheus metrics are computed when scraped")
	}
	if len(m.GetOverrides()) > 0 {
		t.add(diag.Error, &tel.Meta, field+".overrides", "metric overrides (disabling metrics, tag overrides) are not supported: Istio's standard metrics are turned on or off by --istio-metrics, with Istio's labels; not applied")
	}
}
