package telemetry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/decode"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func ptr[T any](v T) *T { return &v }

// tel is a Telemetry document in ns with the given spec (YAML flow or block, indented).
func tel(name, ns, spec string) string {
	return "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + spec + "---\n"
}

func translateDocs(t *testing.T, docs ...string) (*snapshot.Telemetry, []diag.Diagnostic) {
	t.Helper()
	b := decode.Decode([]byte(strings.Join(docs, "")), "t.yaml")
	if len(b.Diagnostics) > 0 {
		t.Fatalf("decode: %v", b.Diagnostics)
	}
	return Translate(b, Options{Namespace: "gw", Labels: map[string]string{"istio": "ingressgateway"}, RootNamespace: "istio-system"})
}

func TestSelectionAndMerge(t *testing.T) {
	on, off := ptr(true), ptr(false)
	tests := []struct {
		name string
		docs []string
		want *snapshot.Telemetry
	}{
		{name: "none", want: nil},
		{name: "root enables with envoy", docs: []string{tel("a", "istio-system", "  accessLogging: [{providers: [{name: envoy}]}]\n")},
			want: &snapshot.Telemetry{AccessLog: on}},
		{name: "no providers is the default provider", docs: []string{tel("a", "istio-system", "  accessLogging: [{}]\n")},
			want: &snapshot.Telemetry{AccessLog: on}},
		{name: "other namespace does not apply", docs: []string{tel("a", "other", "  accessLogging: [{}]\n")}, want: nil},
		{name: "namespace overrides root", docs: []string{
			tel("ns", "gw", "  accessLogging: [{disabled: true}]\n"),
			tel("root", "istio-system", "  accessLogging: [{}]\n  tracing: [{randomSamplingPercentage: 50}]\n"),
		}, want: &snapshot.Telemetry{AccessLog: off, Sampling: ptr(50.0)}},
		{name: "workload selector overrides namespace", docs: []string{
			tel("wl", "gw", "  selector: {matchLabels: {istio: ingressgateway}}\n  tracing: [{randomSamplingPercentage: 5}]\n"),
			tel("ns", "gw", "  tracing: [{randomSamplingPercentage: 20}]\n"),
		}, want: &snapshot.Telemetry{Sampling: ptr(5.0)}},
		{name: "selector not matching", docs: []string{tel("wl", "gw", "  selector: {matchLabels: {app: other}}\n  accessLogging: [{}]\n")}, want: nil},
		{name: "selector in root namespace is not the root level", docs: []string{
			tel("wl", "istio-system", "  selector: {matchLabels: {istio: ingressgateway}}\n  accessLogging: [{}]\n")}, want: nil},
		{name: "SERVER mode does not apply at a gateway", docs: []string{tel("a", "istio-system", "  accessLogging: [{match: {mode: SERVER}}]\n")}, want: nil},
		{name: "CLIENT mode applies", docs: []string{tel("a", "istio-system", "  accessLogging: [{match: {mode: CLIENT}}]\n")},
			want: &snapshot.Telemetry{AccessLog: on}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ds := translateDocs(t, tt.docs...)
			for _, d := range ds {
				if d.Severity == diag.Error {
					t.Errorf("unexpected error: %v", d)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRejections(t *testing.T) {
	tests := []struct {
		name, spec, field string
		sev               diag.Severity
		want              *snapshot.Telemetry // what still applies
	}{
		{"CEL filter", "  accessLogging: [{filter: {expression: 'response.code >= 400'}}]\n", "spec.accessLogging[0].filter", diag.Error, nil},
		{"extension provider", "  accessLogging: [{providers: [{name: otel-als}]}]\n", "spec.accessLogging[0].providers[0].name", diag.Error, nil},
		{"tracing provider", "  tracing: [{providers: [{name: zipkin}], randomSamplingPercentage: 10}]\n", "spec.tracing[0].providers[0].name", diag.Error, nil},
		{"custom tags", "  tracing: [{customTags: {a: {literal: {value: b}}}, randomSamplingPercentage: 10}]\n", "spec.tracing[0].customTags", diag.Error, nil},
		{"disableSpanReporting", "  tracing: [{disableSpanReporting: true}]\n", "spec.tracing[0].disableSpanReporting", diag.Error, nil},
		{"sampling out of range", "  tracing: [{randomSamplingPercentage: 150}]\n", "spec.tracing[0].randomSamplingPercentage", diag.Error, nil},
		{"request id sampling", "  tracing: [{useRequestIdForTraceSampling: false, randomSamplingPercentage: 10}]\n", "spec.tracing[0].useRequestIdForTraceSampling", diag.Warning, &snapshot.Telemetry{Sampling: ptr(10.0)}},
		{"metric overrides", "  metrics: [{overrides: [{disabled: true}]}]\n", "spec.metrics[0].overrides", diag.Error, nil},
		{"metrics provider", "  metrics: [{providers: [{name: stackdriver}]}]\n", "spec.metrics[0].providers[0].name", diag.Error, nil},
		{"reporting interval", "  metrics: [{reportingInterval: 5s}]\n", "spec.metrics[0].reportingInterval", diag.Warning, nil},
		{"targetRefs", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]\n  accessLogging: [{}]\n", "spec.targetRefs", diag.Warning, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ds := translateDocs(t, tel("a", "istio-system", tt.spec))
			if len(ds) != 1 || ds[0].Field != tt.field || ds[0].Severity != tt.sev || ds[0].Kind != "Telemetry" || ds[0].File != "t.yaml" {
				t.Fatalf("diagnostics %v, want one %s on %s", ds, tt.sev, tt.field)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecondAtOneLevelIsIgnored(t *testing.T) {
	got, ds := translateDocs(t,
		tel("first", "istio-system", "  accessLogging: [{}]\n"),
		tel("second", "istio-system", "  accessLogging: [{disabled: true}]\n"))
	if got == nil || got.AccessLog == nil || !*got.AccessLog {
		t.Fatalf("got %+v, want the first Telemetry's access log on", got)
	}
	if len(ds) != 1 || ds[0].Name != "second" || ds[0].Severity != diag.Warning {
		t.Fatalf("diagnostics %v", ds)
	}
}
