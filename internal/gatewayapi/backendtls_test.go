package gatewayapi_test

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// btlsPolicy is a BackendTLSPolicy in namespace web named name, with the given targetRefs
// and validation (YAML flow mappings).
func btlsPolicy(name, created, targets, validation string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: %s, namespace: web, creationTimestamp: %q}
spec:
  targetRefs: %s
  validation: %s
`, name, created, targets, validation)
}

func (r result) cluster(t *testing.T, host string, port uint32) snapshot.Cluster {
	t.Helper()
	for _, c := range r.snap.Clusters {
		if c.Host == host && c.Port == port {
			return c
		}
	}
	t.Fatalf("no cluster %s:%d in %+v", host, port, r.snap.Clusters)
	return snapshot.Cluster{}
}

func (r result) policy(t *testing.T, name string) gwv1.PolicyAncestorStatus {
	t.Helper()
	st := r.update(t, "BackendTLSPolicy", "web", name).Status.(*gwv1.PolicyStatus)
	if len(st.Ancestors) != 1 || st.Ancestors[0].AncestorRef.Name != "web" || string(*st.Ancestors[0].AncestorRef.Namespace) != "web" {
		t.Fatalf("ancestors of %s: %+v, want the Gateway web/web", name, st.Ancestors)
	}
	return st.Ancestors[0]
}

const twoPorts = `apiVersion: v1
kind: Service
metadata: {name: multi, namespace: web}
spec: {ports: [{name: https-1, port: 443}, {name: https-2, port: 8443}]}
`

func TestBackendTLSPolicy(t *testing.T) {
	ca := caConfigMap(t, "web", "backend-ca")
	r := run(t, httpGateway, service("web", "secure", 443), service("web", "sys", 443), twoPorts, ca,
		httpRoute("web", "r", "{name: web, sectionName: http}", `  hostnames: [a.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /secure}}]
    backendRefs: [{name: secure, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /sys}}]
    backendRefs: [{name: sys, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /one}}]
    backendRefs: [{name: multi, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /two}}]
    backendRefs: [{name: multi, port: 8443}]
`),
		btlsPolicy("secure", "2026-01-01T00:00:00Z", "[{group: '', kind: Service, name: secure}]",
			"{caCertificateRefs: [{group: '', kind: ConfigMap, name: backend-ca}], hostname: backend.internal}"),
		btlsPolicy("secure-later", "2026-01-02T00:00:00Z", "[{group: '', kind: Service, name: secure}]",
			"{wellKnownCACertificates: System, hostname: other.internal}"),
		btlsPolicy("sys", "2026-01-01T00:00:00Z", "[{group: '', kind: Service, name: sys}]",
			"{wellKnownCACertificates: System, hostname: sys.internal, subjectAltNames: [{type: URI, uri: 'spiffe://td/ns/web/sa/sys'}, {type: Hostname, hostname: alt.internal}]}"),
		btlsPolicy("multi-one", "2026-01-01T00:00:00Z", "[{group: '', kind: Service, name: multi, sectionName: https-1}]",
			"{wellKnownCACertificates: System, hostname: one.internal}"),
	)
	for _, d := range r.diags {
		if !strings.Contains(d.Message, "no ready endpoints") && !strings.Contains(d.Message, "takes precedence") && !strings.Contains(d.Message, "no route attaches to it") {
			t.Errorf("diagnostic: %s", d)
		}
	}

	c := r.cluster(t, "secure.web.svc.cluster.local", 443)
	if c.TLS == nil || c.TLS.Mode != "SIMPLE" || c.TLS.SNI != "backend.internal" || strings.Join(c.TLS.SubjectAltNames, ",") != "backend.internal" ||
		c.TLS.Credential == nil || c.TLS.Credential.Secret != "istio-system/backendtlspolicy.web.secure" || !c.TLS.Credential.CAOnly || c.TLS.SystemRoots {
		t.Errorf("secure cluster TLS: %+v", c.TLS)
	}
	if ca := r.secret("backendtlspolicy.web.secure"); !strings.Contains(string(ca["ca.crt"]), "BEGIN CERTIFICATE") {
		t.Errorf("derived CA secret: %q", ca)
	}
	a := r.policy(t, "secure")
	wantCond(t, a.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	wantCond(t, a.Conditions, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
	if a.ControllerName != "portcullis.io/gateway-controller" {
		t.Errorf("controllerName %q", a.ControllerName)
	}
	wantCond(t, r.policy(t, "secure-later").Conditions, "Accepted", metav1.ConditionFalse, "Conflicted")

	c = r.cluster(t, "sys.web.svc.cluster.local", 443)
	if c.TLS == nil || !c.TLS.SystemRoots || c.TLS.Credential != nil || c.TLS.SNI != "sys.internal" ||
		strings.Join(c.TLS.SubjectAltNames, ",") != "spiffe://td/ns/web/sa/sys,alt.internal" {
		t.Errorf("sys cluster TLS: %+v", c.TLS)
	}
	// sectionName: only the named port originates TLS.
	if c := r.cluster(t, "multi.web.svc.cluster.local", 443); c.TLS == nil || c.TLS.SNI != "one.internal" {
		t.Errorf("multi:443 TLS: %+v", c.TLS)
	}
	if c := r.cluster(t, "multi.web.svc.cluster.local", 8443); c.TLS != nil {
		t.Errorf("multi:8443 TLS: %+v, want plaintext", c.TLS)
	}
}

// A policy that cannot be honoured never lets its backend be reached in plaintext: the
// requests for it answer 500, and its status says why.
func TestBackendTLSPolicyFailsClosed(t *testing.T) {
	r := run(t, httpGateway, service("web", "noca", 443), service("web", "kind", 443), service("web", "opt", 443),
		service("web", "dr", 443), service("web", "plain", 80),
		httpRoute("web", "r", "{name: web, sectionName: http}", `  hostnames: [a.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /noca}}]
    backendRefs: [{name: noca, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /kind}}]
    backendRefs: [{name: kind, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /opt}}]
    backendRefs: [{name: opt, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /dr}}]
    backendRefs: [{name: dr, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /half}}]
    backendRefs: [{name: noca, port: 443}, {name: plain, port: 80}]
`),
		btlsPolicy("noca", "2026-01-01T00:00:00Z", "[{group: '', kind: Service, name: noca}]",
			"{caCertificateRefs: [{group: '', kind: ConfigMap, name: missing}], hostname: b.internal}"),
		btlsPolicy("kind", "2026-01-01T00:00:00Z", "[{group: '', kind: Service, name: kind}]",
			"{caCertificateRefs: [{group: '', kind: InvalidKind, name: x}], hostname: b.internal}"),
		btlsPolicy("opt", "2026-01-01T00:00:00Z", "[{group: '', kind: Service, name: opt}]",
			"{wellKnownCACertificates: System, hostname: b.internal}")+"  options: {example.com/min-version: '1.3'}\n",
		btlsPolicy("dr", "2026-01-01T00:00:00Z", "[{group: '', kind: Service, name: dr}]",
			"{wellKnownCACertificates: System, hostname: b.internal}"),
		`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mine, namespace: web}
spec: {host: dr.web.svc.cluster.local, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
`)
	for _, c := range []struct{ name, accepted, refs string }{
		{"noca", "NoValidCACertificate", "InvalidCACertificateRef"},
		{"kind", "NoValidCACertificate", "InvalidKind"},
		{"opt", "Invalid", ""},
		{"dr", "Conflicted", ""},
	} {
		a := r.policy(t, c.name)
		wantCond(t, a.Conditions, "Accepted", metav1.ConditionFalse, c.accepted)
		if c.refs != "" {
			wantCond(t, a.Conditions, "ResolvedRefs", metav1.ConditionFalse, c.refs)
		}
	}
	rts := r.routes(t, 80, "a.example.com")
	byPrefix := map[string]snapshot.Route{}
	for _, rt := range rts {
		byPrefix[strings.TrimSuffix(rt.Match[0].URI.Value, "/")] = rt
	}
	for _, p := range []string{"/noca", "/kind", "/opt", "/dr"} {
		if rt := byPrefix[p]; rt.Direct == nil || rt.Direct.Status != 500 || !strings.Contains(rt.Direct.Body, "BackendTLSPolicy") {
			t.Errorf("%s: %+v, want a 500 naming the policy", p, rt)
		}
	}
	// The route itself resolved: the policy's status carries the failure.
	wantCond(t, r.parent(t, "web", "r").Conditions, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
	// Half the requests of /half go to the unusable backend: they answer 500.
	fw := byPrefix["/half"].Forward
	if fw == nil || len(fw.Clusters) != 2 || fw.Clusters[0].Fail == nil || fw.Clusters[0].Fail.Status != 500 || fw.Clusters[0].Weight != 50 ||
		fw.Clusters[1].Fail != nil || fw.Clusters[1].Cluster != "outbound|80||plain.web.svc.cluster.local" || fw.Clusters[1].Weight != 50 {
		t.Errorf("/half: %+v", byPrefix["/half"])
	}
	for _, c := range r.snap.Clusters {
		if c.Host == "noca.web.svc.cluster.local" {
			t.Errorf("a cluster for the policy-failed backend exists: %+v", c)
		}
	}
}

// A rule with some invalid backendRefs serves the valid share and answers 500 for the
// invalid share (Gateway API: HTTPRouteRule.backendRefs).
func TestPartialInvalidBackendRefs(t *testing.T) {
	r := run(t, httpGateway, service("web", "svc", 80),
		httpRoute("web", "r", "{name: web, sectionName: http}", `  hostnames: [a.example.com]
  rules:
  - backendRefs: [{name: svc, port: 80, weight: 3}, {name: nope, port: 80, weight: 1}, {name: gone, port: 80, weight: 0}]
`))
	wantCond(t, r.parent(t, "web", "r").Conditions, "ResolvedRefs", metav1.ConditionFalse, "BackendNotFound")
	rts := r.routes(t, 80, "a.example.com")
	if len(rts) != 1 || rts[0].Forward == nil {
		t.Fatalf("routes: %+v", rts)
	}
	cs := rts[0].Forward.Clusters
	if len(cs) != 2 || cs[0].Cluster != "outbound|80||svc.web.svc.cluster.local" || cs[0].Weight != 75 || cs[0].Fail != nil ||
		cs[1].Cluster != "" || cs[1].Weight != 25 || cs[1].Fail == nil || cs[1].Fail.Status != 500 || cs[1].Fail.Flag != snapshot.FailFlag {
		t.Errorf("clusters: %+v", cs)
	}
	found := false
	for _, d := range r.diags {
		found = found || (d.Kind == "HTTPRoute" && d.Field == "spec.rules[0].backendRefs[1]" && strings.Contains(d.Message, "weight 1) answers 500"))
	}
	if !found {
		t.Errorf("no diagnostic on backendRefs[1]: %v", r.diags)
	}
}

// A TCPRoute with an invalid backendRef refuses its share of connections (TCPRoute and
// TLSRoute backendRefs: "request rejections must respect weight").
func TestPartialInvalidL4BackendRefs(t *testing.T) {
	r := run(t, service("l4", "db", 5432), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: l4, namespace: l4}
spec:
  gatewayClassName: portcullis
  listeners: [{name: db, port: 5432, protocol: TCP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: d, namespace: l4}
spec:
  parentRefs: [{name: l4}]
  rules: [{backendRefs: [{name: db, port: 5432, weight: 80}, {name: gone, port: 5432, weight: 20}]}]
`)
	d := r.server(t, 5432, "l4/l4.db/db")
	if len(d.TCPRoutes) != 1 {
		t.Fatalf("tcp server: %+v", d)
	}
	ds := d.TCPRoutes[0].Destinations
	if len(ds) != 2 || ds[0].Cluster != "outbound|5432||db.l4.svc.cluster.local" || ds[0].Weight != 80 || ds[1].Cluster != "" || ds[1].Weight != 20 {
		t.Errorf("destinations: %+v", ds)
	}
	st := r.update(t, "TCPRoute", "l4", "d").Status.(*gwv1.TCPRouteStatus)
	wantCond(t, st.Parents[0].Conditions, "ResolvedRefs", metav1.ConditionFalse, "BackendNotFound")
}
