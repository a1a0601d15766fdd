package decode

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	clientnet "istio.io/client-go/pkg/apis/networking/v1"
	"sigs.k8s.io/yaml"
)

// TestDurationsAsIstio: every Duration field takes Go duration syntax, as Istio's JSON shims
// (and so the API server path, internal/source/kube) decode it, and the file decoder gives
// the same message as the shim for the same document.
func TestDurationsAsIstio(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"500ms", 500 * time.Millisecond},
		{"1m", time.Minute},
		{"1h30m", 90 * time.Minute},
		{"0.5s", 500 * time.Millisecond},
		{"10s", 10 * time.Second},
		{"1.000000001s", time.Second + 1},
		{"0s", 0},
		{"90s", 90 * time.Second},
	}
	for _, tc := range cases {
		doc := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: ns}
spec:
  hosts: [a.example.com]
  http:
  - timeout: ` + tc.in + `
    retries: {attempts: 2, perTryTimeout: ` + tc.in + `}
    corsPolicy: {maxAge: ` + tc.in + `}
    fault: {delay: {fixedDelay: ` + tc.in + `, percentage: {value: 10}}}
    route: [{destination: {host: b}}]
`
		b := Decode([]byte(doc), "f.yaml")
		if len(b.Diagnostics) != 0 || len(b.VirtualServices) != 1 {
			t.Fatalf("%s: diagnostics %v", tc.in, b.Diagnostics)
		}
		r := b.VirtualServices[0].Spec.Http[0]
		for name, got := range map[string]time.Duration{
			"timeout": r.Timeout.AsDuration(), "perTryTimeout": r.Retries.PerTryTimeout.AsDuration(),
			"maxAge": r.CorsPolicy.MaxAge.AsDuration(), "fixedDelay": r.Fault.Delay.GetFixedDelay().AsDuration(),
		} {
			if got != tc.want {
				t.Errorf("%s: %s = %v, want %v", tc.in, name, got, tc.want)
			}
		}
		// The Kubernetes path: the client-go object's JSON shim.
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var kobj clientnet.VirtualService
		if err := json.Unmarshal(js, &kobj); err != nil {
			t.Fatalf("%s: shim: %v", tc.in, err)
		}
		if diff := cmp.Diff(&kobj.Spec, b.VirtualServices[0].Spec, protocmp.Transform()); diff != "" {
			t.Errorf("%s: file and API server decodings differ (-kube +file):\n%s", tc.in, diff)
		}
	}
}

func TestDurationDestinationRule(t *testing.T) {
	doc := `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr, namespace: ns}
spec:
  host: b
  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 30ms}}}
`
	b := Decode([]byte(doc), "f.yaml")
	if len(b.Diagnostics) != 0 || len(b.DestinationRules) != 1 {
		t.Fatalf("diagnostics %v", b.Diagnostics)
	}
	if got := b.DestinationRules[0].Spec.TrafficPolicy.ConnectionPool.Tcp.ConnectTimeout.AsDuration(); got != 30*time.Millisecond {
		t.Errorf("connectTimeout = %v", got)
	}
}

func TestProtoSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", time.Second: "1s", 1500 * time.Millisecond: "1.500000000s", -time.Nanosecond: "-0.000000001s",
		time.Duration(-1 << 63): "-9223372036.854775808s",
	} {
		if got := protoSeconds(d); got != want {
			t.Errorf("protoSeconds(%d) = %q, want %q", d, got, want)
		}
	}
}
