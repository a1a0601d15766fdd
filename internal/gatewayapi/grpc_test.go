package gatewayapi_test

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func grpcRoute(name, created, spec string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: %s, namespace: web, creationTimestamp: %q}
spec:
  parentRefs: [{name: web, sectionName: http}]
%s`, name, created, spec)
}

// GRPCRoute precedence: the most characters of a matching service, then of a matching
// method, then header matches, whatever the match type.
func TestGRPCRoutePrecedence(t *testing.T) {
	r := run(t, httpGateway, service("web", "grpc", 9000),
		grpcRoute("g", "2026-01-01T00:00:00Z", `  hostnames: [g.example.com]
  rules:
  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]
    backendRefs: [{name: grpc, port: 9000}]
  - matches: [{method: {method: Echo}}]
    backendRefs: [{name: grpc, port: 9000}]
  - matches: [{method: {type: RegularExpression, service: "pkg\\.(A|B)", method: "Get|Put"}}]
    backendRefs: [{name: grpc, port: 9000}]
  - matches: [{method: {service: pkg.Svc}}]
    backendRefs: [{name: grpc, port: 9000}]
  - matches: [{method: {service: pkg.Svc, method: Get}}]
    backendRefs: [{name: grpc, port: 9000}]
`))
	r.noDiagnostics(t)
	rts := r.routes(t, 80, "g.example.com")
	var got []string
	for _, rt := range rts {
		m := rt.Match[0]
		s := ""
		if m.URI != nil {
			s = string(m.URI.Kind) + ":" + m.URI.Value
		}
		got = append(got, fmt.Sprintf("%s h%d", s, len(m.Headers)))
	}
	want := []string{
		`regex:/(?:pkg\.(A|B))/(?:Get|Put) h0`, // service "pkg\.(A|B)": 10 characters
		"exact:/pkg.Svc/Get h0",                // service 7, method 3
		"prefix:/pkg.Svc/ h0",                  // service 7
		"regex:/[^/]+/Echo h0",                 // method only
		"prefix:/ h2",                          // headers only
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("order:\n got %q\nwant %q", got, want)
	}
	for _, rt := range rts {
		if rt.Forward == nil || rt.Forward.Clusters[0].Cluster != "outbound|9000||grpc.web.svc.cluster.local" {
			t.Errorf("route %+v", rt)
		}
	}
	for _, c := range r.snap.Clusters {
		if c.Host == "grpc.web.svc.cluster.local" && c.Protocol != snapshot.UpstreamHTTP2 {
			t.Errorf("grpc cluster protocol %q, want HTTP2", c.Protocol)
		}
	}
}

// An HTTPRoute and a GRPCRoute sharing a hostname on a listener: the older keeps it.
func TestGRPCRouteHTTPRouteConflict(t *testing.T) {
	r := run(t, httpGateway, service("web", "svc", 80), service("web", "grpc", 9000),
		grpcRoute("g", "2026-01-02T00:00:00Z", `  hostnames: [both.example.com]
  rules: [{backendRefs: [{name: grpc, port: 9000}]}]
`),
		grpcRoute("g2", "2026-01-02T00:00:00Z", `  hostnames: [both.example.com, grpc.example.com]
  rules: [{backendRefs: [{name: grpc, port: 9000}]}]
`),
		`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: h, namespace: web, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: web, sectionName: http}]
  hostnames: [both.example.com]
  rules: [{backendRefs: [{name: svc, port: 80}]}]
`)
	st := r.update(t, "GRPCRoute", "web", "g").Status.(*gwv1.GRPCRouteStatus)
	wantCond(t, st.Parents[0].Conditions, "Accepted", metav1.ConditionFalse, "HostnameConflict")
	wantCond(t, r.parent(t, "web", "h").Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	rts := r.routes(t, 80, "both.example.com")
	if len(rts) != 1 || rts[0].Forward == nil || rts[0].Forward.Clusters[0].Cluster != "outbound|80||svc.web.svc.cluster.local" {
		t.Errorf("both.example.com routes: %+v", rts)
	}
	// g2 is refused on the listener as a whole (its hostnames intersect the HTTPRoute's).
	st = r.update(t, "GRPCRoute", "web", "g2").Status.(*gwv1.GRPCRouteStatus)
	wantCond(t, st.Parents[0].Conditions, "Accepted", metav1.ConditionFalse, "HostnameConflict")
	if got := r.listener(t, "web", "web", "http").AttachedRoutes; got != 1 {
		t.Errorf("attachedRoutes = %d, want 1", got)
	}
}

// A TLS listener in mode Terminate: TLSRoutes forward the decrypted stream, each of
// their hostnames a TLS-terminating server of its own so that the SNI picks the route.
func TestTLSTerminateListener(t *testing.T) {
	r := run(t, service("l4", "a", 7000), service("l4", "b", 7000), tlsSecret(t, "l4", "cert", "*.term.example.com"), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: l4, namespace: l4}
spec:
  gatewayClassName: portcullis
  listeners:
  - {name: term, port: 8443, protocol: TLS, hostname: "*.term.example.com", tls: {mode: Terminate, certificateRefs: [{name: cert}]}}
`, termRoute("a"), termRoute("b"))
	for _, d := range r.diags {
		if d.Severity == diag.Error {
			t.Errorf("diagnostic: %s", d)
		}
	}
	for _, c := range []struct{ host, cluster string }{
		{"a.term.example.com", "outbound|7000||a.l4.svc.cluster.local"},
		{"b.term.example.com", "outbound|7000||b.l4.svc.cluster.local"},
	} {
		s := r.server(t, 8443, "l4/l4.term."+c.host+"/term")
		if !s.TCP || s.TLS == nil || s.TLS.Credential.Secret == "" || len(s.Hosts) != 1 || s.Hosts[0] != c.host ||
			len(s.TCPRoutes) != 1 || s.TCPRoutes[0].Destinations[0].Cluster != c.cluster {
			t.Errorf("server for %s: %+v", c.host, s)
		}
	}
	// The listener's own server (any other name under *.term.example.com) has no route:
	// its connections are refused.
	if s := r.server(t, 8443, "l4/l4.term/term"); !s.TCP || s.TLS == nil || len(s.TCPRoutes) != 0 {
		t.Errorf("listener server: %+v", s)
	}
	wantCond(t, r.listener(t, "l4", "l4", "term").Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	if got := r.listener(t, "l4", "l4", "term").AttachedRoutes; got != 2 {
		t.Errorf("attachedRoutes = %d, want 2", got)
	}
}

// termRoute is TLSRoute l4/<n> for <n>.term.example.com to Service l4/<n> port 7000.
func termRoute(n string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: %[1]s, namespace: l4}
spec:
  parentRefs: [{name: l4}]
  hostnames: [%[1]s.term.example.com]
  rules: [{backendRefs: [{name: %[1]s, port: 7000}]}]
`, n)
}

// TLSRouteModeMixed: a Passthrough and a Terminate listener share a port, the SNI choosing.
func TestTLSMixedModesOnOnePort(t *testing.T) {
	r := run(t, service("l4", "a", 7000), service("l4", "p", 7000), tlsSecret(t, "l4", "cert", "a.term.example.com"), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: l4, namespace: l4}
spec:
  gatewayClassName: portcullis
  listeners:
  - {name: term, port: 8443, protocol: TLS, hostname: a.term.example.com, tls: {mode: Terminate, certificateRefs: [{name: cert}]}}
  - {name: pass, port: 8443, protocol: TLS, hostname: p.example.com, tls: {mode: Passthrough}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: p, namespace: l4}
spec:
  parentRefs: [{name: l4, sectionName: pass}]
  hostnames: [p.example.com]
  rules: [{backendRefs: [{name: p, port: 7000}]}]
`, termRoute("a"))
	for _, name := range []string{"term", "pass"} {
		wantCond(t, r.listener(t, "l4", "l4", name).Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
		wantCond(t, r.listener(t, "l4", "l4", name).Conditions, "Conflicted", metav1.ConditionFalse, "NoConflicts")
	}
	if s := r.server(t, 8443, "l4/l4.term/term"); !s.TCP || s.TLS == nil || len(s.TCPRoutes) != 1 {
		t.Errorf("terminate server: %+v", s)
	}
	if s := r.server(t, 8443, "l4/l4.pass/pass"); !s.Passthrough || len(s.TLSRoutes) != 1 || s.TLSRoutes[0].Match[0].SNIHosts[0] != "p.example.com" {
		t.Errorf("passthrough server: %+v", s)
	}
}
