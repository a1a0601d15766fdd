package decode

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/diag"
)

const gwHead = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: ns}\n"

// TestErrors checks that each kind of mistake is rejected with the field and a clear reason.
func TestErrors(t *testing.T) {
	gwErr := func(field, msg string) []diag.Diagnostic {
		return []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "Gateway", Namespace: "ns", Name: "gw", Field: field, Message: msg}}
	}
	cases := []struct {
		name string
		in   string
		want []diag.Diagnostic
	}{
		{
			name: "unknown spec field",
			in:   gwHead + "spec:\n  servers:\n  - port: {number: 443, name: h, protocol: HTTPS}\n    hostz: [a]\n",
			want: gwErr("spec.servers[0].hostz", `unknown field "hostz"`),
		},
		{
			name: "unknown field after multi-byte text",
			in:   gwHead + "spec:\n  servers:\n  - hosts: [\"bäckerei.example\"]\n  - port: {number: 1, nam: h}\n",
			want: gwErr("spec.servers[1].port.nam", `unknown field "nam"`),
		},
		{
			name: "bad enum",
			in:   gwHead + "spec:\n  servers:\n  - tls: {mode: MUTUALL}\n",
			want: gwErr("spec.servers[0].tls.mode",
				`invalid value "MUTUALL" for enum istio.networking.v1alpha3.ServerTLSSettings.TLSmode (valid: PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL)`),
		},
		{
			name: "wrong scalar type",
			in:   gwHead + "spec:\n  servers:\n  - port: {number: https}\n",
			want: gwErr("spec.servers[0].port.number", `invalid value "https": want uint32`),
		},
		{
			name: "scalar where object expected",
			in:   gwHead + "spec:\n  servers:\n  - tls: MUTUAL\n",
			want: gwErr("spec.servers[0].tls", `wrong type: got "MUTUAL", want object (istio.networking.v1alpha3.ServerTLSSettings)`),
		},
		{
			name: "list where map expected",
			in:   gwHead + "spec:\n  selector: [istio]\n",
			want: gwErr("spec.selector", `wrong type: got list, want object`),
		},
		{
			name: "map value of wrong type",
			in:   gwHead + "spec:\n  selector: {istio: 1}\n",
			want: gwErr("spec.selector.istio", `invalid value 1: want string`),
		},
		{
			name: "bad duration",
			in:   "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: gw, namespace: ns}\nspec:\n  http:\n  - timeout: 5 seconds\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "VirtualService", Namespace: "ns", Name: "gw",
				Field: "spec.http[0].timeout", Message: `invalid duration "5 seconds": want a duration such as "500ms", "10s", "1m" or "1h30m"`}},
		},
		{
			name: "unknown metadata field",
			in:   "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: ns, label: {a: b}}\nspec: {}\n",
			want: gwErr("metadata.label", `unknown field "label"`),
		},
		{
			name: "unknown top-level field",
			in:   gwHead + "spec: {}\nspecs: {}\n",
			want: gwErr("specs", `unknown field "specs"`),
		},
		{
			name: "field names are case-sensitive",
			in:   gwHead + "Spec: {}\n",
			want: gwErr("Spec", `unknown field "Spec"`),
		},
		{
			name: "duplicate key",
			in:   gwHead + "spec:\n  servers:\n  - tls: {mode: SIMPLE}\n    tls: {mode: MUTUAL}\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Message: `invalid YAML: line 7: key "tls" already set in map`}},
		},
		{
			name: "missing name",
			in:   "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {namespace: ns}\nspec: {}\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "Gateway", Namespace: "ns", Field: "metadata.name", Message: "name is required"}},
		},
		{
			name: "service unknown field",
			in:   "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - {port: 80, prot: TCP}\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "Service", Namespace: "default", Name: "s",
				Field: "spec.ports[0].prot", Message: `unknown field "prot"`}},
		},
		{
			name: "service wrong type",
			in:   "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - {port: http}\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "Service", Namespace: "default", Name: "s",
				Field: "spec.ports.port", Message: `wrong type: got string, want int32`}},
		},
		{
			name: "endpointslice unknown field",
			in:   "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nendpoints:\n- address: [10.0.0.1]\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "EndpointSlice", Namespace: "default", Name: "e",
				Field: "endpoints[0].address", Message: `unknown field "address"`}},
		},
		{
			name: "secret bad base64 names the key",
			in:   "apiVersion: v1\nkind: Secret\nmetadata: {name: cred, namespace: istio-system}\ndata:\n  cert: YQ==\n  tls.key: not*base64\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "Secret", Namespace: "istio-system", Name: "cred",
				Field: `data["tls.key"]`, Message: `value of key "tls.key" is not valid base64: illegal base64 data at input byte 3`}},
		},
		{
			name: "secret unknown field",
			in:   "apiVersion: v1\nkind: Secret\nmetadata: {name: cred}\nstringdata: {a: b}\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "Secret", Namespace: "default", Name: "cred",
				Field: "stringdata", Message: `unknown field "stringdata"`}},
		},
		{
			name: "secret bad key name",
			in:   "apiVersion: v1\nkind: Secret\nmetadata: {name: cred}\nstringData: {a/b: x}\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Kind: "Secret", Namespace: "default", Name: "cred",
				Field: `data["a/b"]`, Message: `invalid key "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`}},
		},
		{
			name: "not an object",
			in:   "- a\n- b\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Message: "document is not an object"}},
		},
		{
			name: "json syntax error",
			in:   "{\"apiVersion\": \"v1\",\n \"kind\": }\n",
			want: []diag.Diagnostic{{Severity: diag.Error, File: "f.yaml", Message: "invalid JSON: line 2: invalid character '}' looking for beginning of value"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := Decode([]byte(c.in), "f.yaml")
			if diff := cmp.Diff(c.want, b.Diagnostics); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if n := len(b.Gateways) + len(b.VirtualServices) + len(b.Secrets) + len(b.Services) + len(b.EndpointSlices); n != 0 {
				t.Errorf("rejected document still produced %d objects", n)
			}
		})
	}
}
