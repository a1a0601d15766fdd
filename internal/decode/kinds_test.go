package decode

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/diag"
)

const minimalSpec = "spec: {}\n"

// TestKinds decodes every supported kind in every served version, plus ignored kinds.
func TestKinds(t *testing.T) {
	type tc struct {
		name string
		in   string
		want summary
	}
	var cases []tc
	for _, v := range []string{"v1alpha3", "v1beta1", "v1"} {
		for _, k := range []string{"Gateway", "VirtualService", "DestinationRule", "ServiceEntry"} {
			av := "networking.istio.io/" + v
			cases = append(cases, tc{
				name: k + "/" + v,
				in:   fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: x\n  namespace: ns\n%s", av, k, minimalSpec),
				want: summary{Objects: []string{k + " " + av + " ns/x f.yaml#0"}},
			})
		}
	}
	cases = append(cases,
		tc{
			name: "secret",
			in:   "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: istio-system}\ndata: {cert: YQ==}\n",
			want: summary{Objects: []string{"Secret v1 istio-system/s f.yaml#0"}},
		},
		tc{
			name: "service",
			in:   "apiVersion: v1\nkind: Service\nmetadata: {name: frontend}\nspec:\n  ports:\n  - {port: 80, targetPort: http}\n",
			want: summary{Objects: []string{"Service v1 default/frontend f.yaml#0"}},
		},
		tc{
			name: "endpointslice",
			in: "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: frontend-abc, namespace: ux, labels: {kubernetes.io/service-name: frontend}}\n" +
				"addressType: IPv4\nendpoints:\n- addresses: [127.0.0.1]\n  conditions: {ready: true}\nports:\n- {name: http, port: 8080, protocol: TCP}\n",
			want: summary{Objects: []string{"EndpointSlice discovery.k8s.io/v1 ux/frontend-abc f.yaml#0"}},
		},
		tc{
			name: "unknown kind is a warning",
			in:   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
			want: summary{Diagnostics: []diag.Diagnostic{{Severity: diag.Warning, File: "f.yaml", Kind: "Deployment", Namespace: "default", Name: "d",
				Message: "kind apps/v1 Deployment is not used by portcullis; ignored"}}},
		},
		tc{
			name: "unsupported istio kind is a warning",
			in:   "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: e, namespace: istio-system}\nspec: {}\n",
			want: summary{Diagnostics: []diag.Diagnostic{{Severity: diag.Warning, File: "f.yaml", Kind: "EnvoyFilter", Namespace: "istio-system", Name: "e",
				Message: "kind networking.istio.io/v1alpha3 EnvoyFilter is not supported by portcullis; ignored"}}},
		},
		tc{
			name: "Telemetry v1",
			in:   "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default, namespace: istio-system}\nspec: {accessLogging: [{providers: [{name: envoy}]}]}\n",
			want: summary{Objects: []string{"Telemetry telemetry.istio.io/v1 istio-system/mesh-default f.yaml#0"}},
		},
		tc{
			name: "Telemetry v1alpha1",
			in:   "apiVersion: telemetry.istio.io/v1alpha1\nkind: Telemetry\nmetadata: {name: t, namespace: ns}\nspec: {tracing: [{randomSamplingPercentage: 10}]}\n",
			want: summary{Objects: []string{"Telemetry telemetry.istio.io/v1alpha1 ns/t f.yaml#0"}},
		},
		tc{
			name: "Telemetry unknown field is an error",
			in:   "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, namespace: ns}\nspec: {accessLogging: [{provider: envoy}]}\n",
			want: summary{Diagnostics: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "Telemetry", Namespace: "ns", Name: "t", Field: "spec.accessLogging[0].provider",
				Message: `unknown field "provider"`}}},
		},
		tc{
			name: "unserved istio version is a warning",
			in:   "apiVersion: networking.istio.io/v2\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n",
			want: summary{Diagnostics: []diag.Diagnostic{{Severity: diag.Warning, File: "f.yaml", Kind: "Gateway", Namespace: "default", Name: "g",
				Message: "kind networking.istio.io/v2 Gateway is not supported by portcullis; ignored"}}},
		},
		tc{
			name: "no kind is a warning",
			in:   "foo: bar\n",
			want: summary{Diagnostics: []diag.Diagnostic{{Severity: diag.Warning, File: "f.yaml", Message: "document has no apiVersion or kind; ignored"}}},
		},
		tc{
			name: "empty documents take no index",
			in: "# leading comment\n---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n# nothing\n---\n" +
				"apiVersion: v1\nkind: Service\nmetadata: {name: b}\n---\n",
			want: summary{Objects: []string{"Service v1 default/a f.yaml#0", "Service v1 default/b f.yaml#1"}},
		},
		tc{
			name: "json stream",
			in: `{"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"g"},"spec":{"servers":[{"port":{"number":443,"name":"h","protocol":"HTTPS"},"hosts":["a"]}]}}` +
				"\n" + `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"}}`,
			want: summary{Objects: []string{"Gateway networking.istio.io/v1 default/g f.yaml#0", "Service v1 default/s f.yaml#1"}},
		},
		tc{
			name: "list decodes each item",
			in: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n" +
				"- apiVersion: networking.istio.io/v1\n  kind: VirtualService\n  metadata: {name: b}\n  spec: {hostz: [x]}\n" +
				"- apiVersion: networking.istio.io/v1\n  kind: Gateway\n  metadata: {name: c}\n  spec: {}\n",
			want: summary{
				Objects: []string{"Gateway networking.istio.io/v1 default/c f.yaml#0", "Service v1 default/a f.yaml#0"},
				Diagnostics: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "VirtualService", Namespace: "default", Name: "b",
					Field: "spec.hostz", Message: `unknown field "hostz"`}},
			},
		},
		tc{
			name: "one bad document does not stop the others",
			in: "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nkey: [unclosed\n---\n" +
				"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: bad}\nspec: {servers: [{tls: {mode: MUTUALL}}]}\n---\n" +
				"apiVersion: v1\nkind: Service\nmetadata: {name: b}\n",
			want: summary{
				Objects: []string{"Service v1 default/a f.yaml#0", "Service v1 default/b f.yaml#3"},
				Diagnostics: []diag.Diagnostic{
					{Severity: diag.Error, File: "f.yaml", Index: 1,
						Message: "invalid YAML: line 5: did not find expected ',' or ']'"},
					{Severity: diag.Error, File: "f.yaml", Index: 2, Kind: "Gateway", Namespace: "default", Name: "bad", Field: "spec.servers[0].tls.mode",
						Message: `invalid value "MUTUALL" for enum istio.networking.v1alpha3.ServerTLSSettings.TLSmode (valid: PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL)`},
				},
			},
		},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := summarize(Decode([]byte(c.in), "f.yaml"))
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
