package gatewayapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/portcullis/portcullis/internal/decode"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/gatewayapi"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/status"
	"github.com/portcullis/portcullis/internal/translate"
)

// selfSigned returns a PEM certificate and key for host (also usable as a CA).
func selfSigned(t *testing.T, host string) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

func tlsSecret(t *testing.T, ns, name, host string) string {
	c, k := selfSigned(t, host)
	b := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ntype: kubernetes.io/tls\ndata: {tls.crt: %s, tls.key: %s}\n", name, ns, b(c), b(k))
}

func caConfigMap(t *testing.T, ns, name string) string {
	c, _ := selfSigned(t, name+".ca")
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata:\n  ca.crt: %q\n", name, ns, c)
}

func service(ns, name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[2]s, namespace: %[1]s}
spec: {ports: [{name: http, port: %[3]d}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[2]s-1, namespace: %[1]s, labels: {kubernetes.io/service-name: %[2]s}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, ns, name, port)
}

const class = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portcullis}
spec: {controllerName: portcullis.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other}
spec: {controllerName: example.com/other}
`

type result struct {
	gatewayapi.Result
	snap  *snapshot.Snapshot
	diags []diag.Diagnostic
}

func run(t *testing.T, docs ...string) result {
	t.Helper()
	return translateDocs(t, append([]string{class}, docs...)...)
}

func translateDocs(t *testing.T, docs ...string) result {
	t.Helper()
	return translateOpts(t, gatewayapi.Options{}, docs...)
}

func translateOpts(t *testing.T, o gatewayapi.Options, docs ...string) result {
	t.Helper()
	b := decode.Decode([]byte(strings.Join(docs, "\n---\n")), "test.yaml")
	for _, d := range b.Diagnostics {
		t.Fatalf("decode: %s", d)
	}
	res := gatewayapi.Translate(b, o)
	snap, ds := translate.Translate(res.Bundle, translate.Options{UpstreamHTTP2: res.HTTP2Hosts})
	return result{Result: res, snap: snap, diags: ds}
}

// noDiagnostics fails on any diagnostic but the translator's note that a listener with
// no route answers 404.
func (r result) noDiagnostics(t *testing.T) {
	t.Helper()
	for _, d := range r.diags {
		if !strings.Contains(d.Message, "no route attaches to it") {
			t.Errorf("diagnostic: %s", d)
		}
	}
}

func (r result) update(t *testing.T, kind, ns, name string) status.Update {
	t.Helper()
	for _, u := range r.Status {
		if u.Kind == kind && u.Namespace == ns && u.Name == name {
			return u
		}
	}
	t.Fatalf("no status for %s %s/%s in %v", kind, ns, name, r.Status)
	return status.Update{}
}

func condition(t *testing.T, cs []metav1.Condition, typ string) metav1.Condition {
	t.Helper()
	for _, c := range cs {
		if c.Type == typ {
			return c
		}
	}
	t.Fatalf("no condition %s in %v", typ, cs)
	return metav1.Condition{}
}

func wantCond(t *testing.T, cs []metav1.Condition, typ string, st metav1.ConditionStatus, reason string) {
	t.Helper()
	c := condition(t, cs, typ)
	if c.Status != st || c.Reason != reason {
		t.Errorf("%s = %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, st, reason)
	}
}

func (r result) listener(t *testing.T, ns, gw, name string) gwv1.ListenerStatus {
	t.Helper()
	st := r.update(t, "Gateway", ns, gw).Status.(*gwv1.GatewayStatus)
	for _, l := range st.Listeners {
		if string(l.Name) == name {
			return l
		}
	}
	t.Fatalf("no listener %s", name)
	return gwv1.ListenerStatus{}
}

func (r result) parent(t *testing.T, ns, name string) gwv1.RouteParentStatus {
	t.Helper()
	u := r.update(t, "HTTPRoute", ns, name)
	st := u.Status.(*gwv1.HTTPRouteStatus)
	if len(st.Parents) != 1 {
		t.Fatalf("parents = %d, want 1", len(st.Parents))
	}
	return st.Parents[0]
}

func (r result) server(t *testing.T, port uint32, name string) snapshot.Server {
	t.Helper()
	for _, l := range r.snap.Listeners {
		for _, s := range l.Servers {
			if l.Port == port && s.Name == name {
				return s
			}
		}
	}
	t.Fatalf("no server %s on port %d in %+v", name, port, r.snap.Listeners)
	return snapshot.Server{}
}

func (r result) secret(name string) map[string][]byte {
	for _, s := range r.Bundle.Secrets {
		if s.Namespace == "istio-system" && s.Name == name {
			return s.Data
		}
	}
	return nil
}

func httpRoute(ns, name, parent, spec string) string {
	return fmt.Sprintf("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: %s, namespace: %s}\nspec:\n  parentRefs: [%s]\n%s", name, ns, parent, spec)
}

// TestWalkthrough: two teams' Gateways share port 443, each with its own client CA; the
// snapshot has one listener with one MUTUAL server per host, each with its CA.
func TestWalkthrough(t *testing.T) {
	walkthrough, err := os.ReadFile("testdata/walkthrough.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := translateDocs(t, string(walkthrough),
		tlsSecret(t, "ux", "frontend-cert", "frontend.foocorp.com"), caConfigMap(t, "ux", "frontend-client-ca"),
		tlsSecret(t, "corp-services", "inventory-cert", "inventory.foocorp.com"), caConfigMap(t, "corp-services", "inventory-client-ca"),
		service("ux", "frontend", 80), service("corp-services", "inventory", 80),
	)
	r.noDiagnostics(t)
	if len(r.snap.Listeners) != 1 || len(r.snap.Listeners[0].Servers) != 2 {
		t.Fatalf("listeners = %+v, want one with two servers", r.snap.Listeners)
	}
	for _, c := range []struct{ ns, gw, host, caName string }{
		{"ux", "frontend", "frontend.foocorp.com", "frontend-client-ca"},
		{"corp-services", "inventory", "inventory.foocorp.com", "inventory-client-ca"},
	} {
		s := r.server(t, 443, c.ns+"/"+c.gw+".https/https")
		if s.TLS == nil || s.TLS.Mode != snapshot.TLSMutual || !s.TLS.Credential.NeedCA || len(s.Hosts) != 1 || s.Hosts[0] != c.host {
			t.Errorf("server %s: %+v", s.Name, s)
			continue
		}
		_, name, _ := strings.Cut(s.TLS.Credential.Secret, "/")
		if d := r.secret(name); len(d["tls.crt"]) == 0 || len(d["tls.key"]) == 0 {
			t.Errorf("derived secret %s has no key pair", name)
		}
		if ca := r.secret(name + "-cacert"); !strings.Contains(string(ca["ca.crt"]), "BEGIN CERTIFICATE") {
			t.Errorf("derived CA secret of %s is empty", name)
		}
		if len(s.VirtualHosts) != 1 || s.VirtualHosts[0].Domains[0] != c.host || s.VirtualHosts[0].Routes[0].Forward == nil {
			t.Errorf("server %s virtual hosts: %+v", s.Name, s.VirtualHosts)
		}
		l := r.listener(t, c.ns, c.gw, "https")
		if l.AttachedRoutes != 1 {
			t.Errorf("%s attachedRoutes = %d", c.gw, l.AttachedRoutes)
		}
		for _, typ := range []string{"Accepted", "Programmed", "ResolvedRefs"} {
			wantCond(t, l.Conditions, typ, metav1.ConditionTrue, typ)
		}
		wantCond(t, l.Conditions, "Conflicted", metav1.ConditionFalse, "NoConflicts")
		gs := r.update(t, "Gateway", c.ns, c.gw).Status.(*gwv1.GatewayStatus)
		wantCond(t, gs.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
		wantCond(t, gs.Conditions, "Programmed", metav1.ConditionTrue, "Programmed")
	}
	p := r.parent(t, "corp-services", "inventory")
	if string(p.ControllerName) != gatewayapi.DefaultControllerName {
		t.Errorf("controllerName = %s", p.ControllerName)
	}
	wantCond(t, p.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	wantCond(t, p.Conditions, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
	cs := r.update(t, "GatewayClass", "", "portcullis").Status.(*gwv1.GatewayClassStatus)
	wantCond(t, cs.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	for _, u := range r.Status {
		if u.Name == "other" {
			t.Errorf("status for another controller's class: %+v", u)
		}
	}
}

const crossNSGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  gatewayClassName: portcullis
  listeners:
  - {name: https, port: 443, protocol: HTTPS, hostname: a.example.com, tls: {certificateRefs: [{name: a-cert, namespace: certs}]}}
`

const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: edge-certs, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: edge}]
  to: [{group: "", kind: Secret}]
`

func TestCertificateRefAcrossNamespaces(t *testing.T) {
	secret := tlsSecret(t, "certs", "a-cert", "a.example.com")
	r := run(t, crossNSGateway, secret)
	l := r.listener(t, "edge", "gw", "https")
	wantCond(t, l.Conditions, "ResolvedRefs", metav1.ConditionFalse, "RefNotPermitted")
	wantCond(t, l.Conditions, "Programmed", metav1.ConditionFalse, "Invalid")
	s := r.server(t, 443, "edge/gw.https/https")
	_, name, _ := strings.Cut(s.TLS.Credential.Secret, "/")
	if r.secret(name) != nil {
		t.Errorf("a Secret was derived without a ReferenceGrant")
	}
	if !hasDiag(r.diags, "spec.listeners[0].tls.certificateRefs[0]", "ReferenceGrant") {
		t.Errorf("no diagnostic for the refused reference: %v", r.diags)
	}

	r = run(t, crossNSGateway, secret, grant)
	l = r.listener(t, "edge", "gw", "https")
	wantCond(t, l.Conditions, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
	if r.secret(name) == nil {
		t.Errorf("no Secret derived with the ReferenceGrant")
	}
}

func hasDiag(ds []diag.Diagnostic, field, substr string) bool {
	for _, d := range ds {
		if d.Field == field && strings.Contains(d.Message, substr) {
			return true
		}
	}
	return false
}

func TestConflicts(t *testing.T) {
	gw := func(name, created, listeners string) string {
		return fmt.Sprintf("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: %s, namespace: ns, creationTimestamp: %q}\nspec:\n  gatewayClassName: portcullis\n  listeners:\n%s", name, created, listeners)
	}
	r := run(t,
		gw("young", "2024-02-01T00:00:00Z", "  - {name: h, port: 80, protocol: HTTP, hostname: a.example.com}\n"),
		gw("old", "2024-01-01T00:00:00Z", "  - {name: h, port: 80, protocol: HTTP, hostname: a.example.com}\n  - {name: t, port: 8443, protocol: TCP}\n"),
		gw("tls", "2024-03-01T00:00:00Z", "  - {name: p, port: 8443, protocol: TLS, hostname: b.example.com, tls: {mode: Passthrough}}\n"),
	)
	wantCond(t, r.listener(t, "ns", "old", "h").Conditions, "Conflicted", metav1.ConditionFalse, "NoConflicts")
	wantCond(t, r.listener(t, "ns", "young", "h").Conditions, "Conflicted", metav1.ConditionTrue, "HostnameConflict")
	wantCond(t, r.listener(t, "ns", "young", "h").Conditions, "Programmed", metav1.ConditionFalse, "Invalid")
	wantCond(t, r.listener(t, "ns", "tls", "p").Conditions, "Conflicted", metav1.ConditionTrue, "ProtocolConflict")
	wantCond(t, r.update(t, "Gateway", "ns", "young").Status.(*gwv1.GatewayStatus).Conditions, "Programmed", metav1.ConditionFalse, "Invalid")
	if !hasDiag(r.diags, "spec.listeners[0]", "already served by listener h of Gateway ns/old") {
		t.Errorf("no conflict diagnostic: %v", r.diags)
	}
	for _, l := range r.snap.Listeners {
		for _, s := range l.Servers {
			if strings.Contains(s.Name, "young") || strings.Contains(s.Name, "tls.p") {
				t.Errorf("conflicted listener served: %s", s.Name)
			}
		}
	}
}

const httpGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: web}
spec:
  gatewayClassName: portcullis
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: "*.example.com"}
  - {name: any, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
`

// routeNames lists the names of the routes of the virtual host for domain on port.
func (r result) routes(t *testing.T, port uint32, domain string) []snapshot.Route {
	t.Helper()
	for _, l := range r.snap.Listeners {
		if l.Port != port {
			continue
		}
		for _, s := range l.Servers {
			for _, vh := range s.VirtualHosts {
				for _, d := range vh.Domains {
					if d == domain {
						return vh.Routes
					}
				}
			}
		}
	}
	t.Fatalf("no virtual host %s on port %d", domain, port)
	return nil
}

// TestPrecedence: rules of several routes merge on one host in the Gateway API order.
func TestPrecedence(t *testing.T) {
	r := run(t, httpGateway, service("web", "svc", 80),
		httpRoute("web", "b-catchall", "{name: web, sectionName: http}", `  hostnames: [a.example.com]
  rules:
  - backendRefs: [{name: svc, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: x-v, value: "2"}]}]
    backendRefs: [{name: svc, port: 80}]
`),
		httpRoute("web", "a-routes", "{name: web, sectionName: http}", `  hostnames: [a.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: svc, port: 80}]
  - matches: [{path: {type: Exact, value: /api/v1}}, {path: {type: PathPrefix, value: /api/}, method: GET}]
    backendRefs: [{name: svc, port: 80}]
`))
	r.noDiagnostics(t)
	var got []string
	for _, rt := range r.routes(t, 80, "a.example.com") {
		_, n, _ := strings.Cut(rt.Name, "httproute/web/")
		got = append(got, n+" "+rt.Match[0].URI.Value)
	}
	want := []string{
		"a-routes/rules[1]/0 /api/v1", // exact
		"a-routes/rules[1]/1 /api",    // prefix /api + method
		"a-routes/rules[1]/2 /api/",   //   (its element-wise prefix half)
		"b-catchall/rules[1]/0 /api",  // prefix /api + a header, alphabetically after a- but more headers
		"b-catchall/rules[1]/1 /api/", //
		"a-routes/rules[0]/0 /api",    // prefix /api
		"a-routes/rules[0]/1 /api/",   //
		"b-catchall/rules[0]/0 /",     // the default match
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("route order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRouteStatusAndFailClosed(t *testing.T) {
	r := run(t, httpGateway, service("web", "svc", 80), service("other", "svc", 80),
		httpRoute("other", "foreign", "{name: web, namespace: web, sectionName: http}", "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"),
		httpRoute("web", "nohost", "{name: web, sectionName: http}", "  hostnames: [a.example.org]\n  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"),
		httpRoute("web", "missing", "{name: web, sectionName: http}", "  hostnames: [m.example.com]\n  rules: [{backendRefs: [{name: nope, port: 80}]}]\n"),
		httpRoute("web", "crossns", "{name: web, sectionName: http}", "  hostnames: [c.example.com]\n  rules: [{backendRefs: [{name: svc, namespace: other, port: 80}]}]\n"),
		httpRoute("web", "kind", "{name: web, sectionName: http}", "  hostnames: [k.example.com]\n  rules: [{backendRefs: [{group: example.com, kind: Bucket, name: b}]}]\n"),
		httpRoute("web", "ext", "{name: web, sectionName: http}", "  hostnames: [e.example.com]\n  rules: [{filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: F, name: f}}], backendRefs: [{name: svc, port: 80}]}]\n"),
		httpRoute("other", "anyns", "{name: web, namespace: web, sectionName: any}", "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"),
	)
	wantCond(t, r.parent(t, "other", "foreign").Conditions, "Accepted", metav1.ConditionFalse, "NotAllowedByListeners")
	wantCond(t, r.parent(t, "web", "nohost").Conditions, "Accepted", metav1.ConditionFalse, "NoMatchingListenerHostname")
	wantCond(t, r.parent(t, "other", "anyns").Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	for _, c := range []struct{ name, host, reason string }{
		{"missing", "m.example.com", "BackendNotFound"},
		{"crossns", "c.example.com", "RefNotPermitted"},
		{"kind", "k.example.com", "InvalidKind"},
		{"ext", "e.example.com", ""},
	} {
		p := r.parent(t, "web", c.name)
		wantCond(t, p.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
		if c.reason != "" {
			wantCond(t, p.Conditions, "ResolvedRefs", metav1.ConditionFalse, c.reason)
		}
		rts := r.routes(t, 80, c.host)
		if len(rts) != 1 || rts[0].Direct == nil || rts[0].Direct.Status != 500 {
			t.Errorf("%s: routes %+v, want one answering 500", c.name, rts)
		}
	}
	if got := r.listener(t, "web", "web", "http").AttachedRoutes; got != 4 {
		t.Errorf("attachedRoutes = %d, want 4", got)
	}
}

func TestFiltersWeightsAndGRPC(t *testing.T) {
	r := run(t, httpGateway, service("web", "svc", 80), service("web", "two", 80), service("web", "grpc", 9000),
		httpRoute("web", "f", "{name: web, sectionName: http}", `  hostnames: [f.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - {type: URLRewrite, urlRewrite: {hostname: new.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-A, value: "1"}], remove: [x-b]}}
    backendRefs: [{name: svc, port: 80, weight: 1}, {name: two, port: 80, weight: 2}]
  - matches: [{path: {type: Exact, value: /r}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
`),
		`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: web}
spec:
  parentRefs: [{name: web, sectionName: http}]
  hostnames: [g.example.com]
  rules:
  - matches: [{method: {service: pkg.Svc, method: Get}}]
    backendRefs: [{name: grpc, port: 9000}]
`)
	r.noDiagnostics(t)
	rts := r.routes(t, 80, "f.example.com")
	if len(rts) != 3 {
		t.Fatalf("routes: %+v", rts)
	}
	// /r exact, then /old exact, then /old/ prefix.
	fw := rts[2].Forward
	if rts[2].Match[0].URI.Value != "/old/" || fw == nil || fw.Rewrite == nil || fw.Rewrite.URI != "/new/" || fw.Rewrite.Authority != "new.example.com" {
		t.Errorf("prefix rewrite route: %+v / %+v", rts[2], fw)
	} else if len(fw.Clusters) != 2 || fw.Clusters[0].Weight != 33 || fw.Clusters[1].Weight != 67 {
		t.Errorf("weights: %+v", fw.Clusters)
	} else if fw.RequestHeaders == nil || fw.RequestHeaders.Set["X-A"] != "1" {
		t.Errorf("request headers: %+v", fw.RequestHeaders)
	}
	if f := rts[1].Forward; f == nil || f.Rewrite == nil || f.Rewrite.URI != "/new" {
		t.Errorf("exact half rewrite: %+v", rts[1])
	}
	if rd := rts[0].Redirect; rd == nil || rd.Scheme != "https" || rd.Code != 301 {
		t.Errorf("redirect: %+v", rts[0])
	}
	g := r.routes(t, 80, "g.example.com")
	if len(g) != 1 || g[0].Match[0].URI.Kind != snapshot.Exact || g[0].Match[0].URI.Value != "/pkg.Svc/Get" {
		t.Fatalf("grpc routes: %+v", g)
	}
	for _, c := range r.snap.Clusters {
		if c.Host == "grpc.web.svc.cluster.local" && c.Protocol != snapshot.UpstreamHTTP2 {
			t.Errorf("grpc cluster protocol = %q", c.Protocol)
		}
		if c.Host == "svc.web.svc.cluster.local" && c.Protocol != "" {
			t.Errorf("http cluster protocol = %q", c.Protocol)
		}
	}
}

func TestL4Routes(t *testing.T) {
	r := run(t, service("l4", "db", 5432), service("l4", "tls", 443), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: l4, namespace: l4}
spec:
  gatewayClassName: portcullis
  listeners:
  - {name: pass, port: 443, protocol: TLS, hostname: "*.pass.example.com", tls: {mode: Passthrough}}
  - {name: db, port: 5432, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: t, namespace: l4}
spec:
  parentRefs: [{name: l4}]
  hostnames: [a.pass.example.com]
  rules: [{backendRefs: [{name: tls, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: d, namespace: l4}
spec:
  parentRefs: [{name: l4, sectionName: db}]
  rules: [{backendRefs: [{name: db, port: 5432}]}]
`)
	r.noDiagnostics(t)
	p := r.server(t, 443, "l4/l4.pass/pass")
	if !p.Passthrough || len(p.TLSRoutes) != 1 || p.TLSRoutes[0].Match[0].SNIHosts[0] != "a.pass.example.com" {
		t.Errorf("passthrough server: %+v", p)
	}
	d := r.server(t, 5432, "l4/l4.db/db")
	if !d.TCP || len(d.TCPRoutes) != 1 || !strings.Contains(d.TCPRoutes[0].Destinations[0].Cluster, "db.l4.svc.cluster.local") {
		t.Errorf("tcp server: %+v", d)
	}
	if got := r.listener(t, "l4", "l4", "pass").AttachedRoutes; got != 1 {
		t.Errorf("TLS listener attachedRoutes = %d", got)
	}
}

// TestNotOurs: Gateways of another controller's class are neither served nor given status.
func TestNotOurs(t *testing.T) {
	r := run(t, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: theirs, namespace: x}
spec:
  gatewayClassName: other
  listeners: [{name: h, port: 80, protocol: HTTP}]
`)
	if len(r.snap.Listeners) != 0 {
		t.Errorf("another class's Gateway is served: %+v", r.snap.Listeners)
	}
	for _, u := range r.Status {
		if u.Kind == "Gateway" {
			t.Errorf("status for another class's Gateway: %+v", u)
		}
	}
}

// TestAllowedRoutesSelector: from: Selector admits routes of namespaces whose labels match,
// the automatic kubernetes.io/metadata.name label included.
func TestAllowedRoutesSelector(t *testing.T) {
	r := run(t, `apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {gateway-access: "yes"}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared, namespace: infra}
spec:
  gatewayClassName: portcullis
  listeners:
  - name: labelled
    port: 80
    protocol: HTTP
    hostname: a.example.com
    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {gateway-access: "yes"}}}}
  - name: named
    port: 80
    protocol: HTTP
    hostname: b.example.com
    allowedRoutes: {namespaces: {from: Selector, selector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [team-b]}]}}}
`, service("team-a", "svc", 80), service("team-b", "svc", 80), service("team-c", "svc", 80),
		httpRoute("team-a", "r", "{name: shared, namespace: infra, sectionName: labelled}", "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"),
		httpRoute("team-b", "r", "{name: shared, namespace: infra, sectionName: named}", "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"),
		httpRoute("team-c", "r", "{name: shared, namespace: infra, sectionName: labelled}", "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"),
	)
	if !hasDiag(r.diags, "spec.parentRefs[0]", "NotAllowedByListeners") {
		t.Errorf("no diagnostic for the refused route: %v", r.diags)
	}
	wantCond(t, r.parent(t, "team-a", "r").Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	wantCond(t, r.parent(t, "team-b", "r").Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	wantCond(t, r.parent(t, "team-c", "r").Conditions, "Accepted", metav1.ConditionFalse, "NotAllowedByListeners")
	if rts := r.routes(t, 80, "a.example.com"); len(rts) != 1 || !strings.Contains(rts[0].Forward.Clusters[0].Cluster, "svc.team-a.") {
		t.Errorf("a.example.com routes: %+v", rts)
	}
}

// TestSupportedFeatures: the names exist in the module's feature list and are sorted, as
// the API requires.
func TestSupportedFeatures(t *testing.T) {
	known := map[string]bool{}
	for _, f := range features.AllFeatures.UnsortedList() {
		known[string(f.Name)] = true
	}
	prev := ""
	for _, f := range gatewayapi.SupportedFeatures() {
		if !known[string(f.Name)] {
			t.Errorf("unknown feature %s", f.Name)
		}
		if string(f.Name) <= prev {
			t.Errorf("%s not after %s", f.Name, prev)
		}
		prev = string(f.Name)
	}
}

// TestAttribute: findings about derived objects are reported on the Gateway listener.
func TestAttribute(t *testing.T) {
	r := run(t, httpGateway, service("web", "svc", 80))
	got := r.Attribute(r.diags)
	found := false
	for _, d := range got {
		if d.Kind == "Gateway" && d.Name == "web" && d.Field == "spec.listeners[1]" && strings.HasPrefix(d.Message, "listener any: ") {
			found = true
		}
		if strings.Contains(d.Name, ".") {
			t.Errorf("finding still names a derived object: %s", d)
		}
	}
	if !found {
		t.Errorf("no finding on listener any (spec.listeners[1]): %v", got)
	}
}

// BenchmarkTranslate1000Routes: 1000 HTTPRoutes (two rules each, one host each) on one
// listener, through the Gateway API translation and then the translator, as an apply does.
func BenchmarkTranslate1000Routes(b *testing.B) {
	docs := []string{class, httpGateway, service("web", "svc", 80)}
	for i := range 1000 {
		docs = append(docs, httpRoute("web", fmt.Sprintf("r%d", i), "{name: web, sectionName: http}",
			fmt.Sprintf("  hostnames: [h%d.example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /api}}]\n    backendRefs: [{name: svc, port: 80}]\n  - backendRefs: [{name: svc, port: 80}]\n", i)))
	}
	bundle := decode.Decode([]byte(strings.Join(docs, "\n---\n")), "bench.yaml")
	b.Run("gatewayapi", func(b *testing.B) {
		for b.Loop() {
			gatewayapi.Translate(bundle, gatewayapi.Options{})
		}
	})
	b.Run("gatewayapi+translate", func(b *testing.B) {
		for b.Loop() {
			res := gatewayapi.Translate(bundle, gatewayapi.Options{})
			translate.Translate(res.Bundle, translate.Options{UpstreamHTTP2: res.HTTP2Hosts})
		}
	})
}

// TestNoValidCA: a listener whose client CA cannot be read is not served (fail closed)
// and claims no hostname, so a younger Gateway's listener on the same host is served.
func TestNoValidCA(t *testing.T) {
	gw := func(name, created, frontend string) string {
		return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: %s, namespace: ns, creationTimestamp: %q}
spec:
  gatewayClassName: portcullis
%s  listeners:
  - {name: https, port: 443, protocol: HTTPS, hostname: x.example.com, tls: {certificateRefs: [{name: cert}]}}
`, name, created, frontend)
	}
	r := run(t, tlsSecret(t, "ns", "cert", "x.example.com"),
		gw("old", "2024-01-01T00:00:00Z", "  tls: {frontend: {default: {validation: {caCertificateRefs: [{group: \"\", kind: ConfigMap, name: missing}]}}}}\n"),
		gw("young", "2024-02-01T00:00:00Z", ""))
	old := r.listener(t, "ns", "old", "https")
	wantCond(t, old.Conditions, "Accepted", metav1.ConditionFalse, "NoValidCACertificate")
	wantCond(t, old.Conditions, "ResolvedRefs", metav1.ConditionFalse, "InvalidCACertificateRef")
	wantCond(t, r.listener(t, "ns", "young", "https").Conditions, "Conflicted", metav1.ConditionFalse, "NoConflicts")
	if len(r.snap.Listeners) != 1 || len(r.snap.Listeners[0].Servers) != 1 || r.snap.Listeners[0].Servers[0].Name != "ns/young.https/https" {
		t.Errorf("servers: %+v", r.snap.Listeners)
	}
}

// TestCORSFilter: the CORS filter becomes a snapshot CORS marked as the Gateway API's,
// with "*" methods allowed, unmatched preflights answered locally, maxAge 5 by default.
func TestCORSFilter(t *testing.T) {
	r := run(t, httpGateway, service("web", "svc", 80),
		httpRoute("web", "c", "{name: web, sectionName: http}", `  hostnames: [c.example.com]
  rules:
  - filters:
    - type: CORS
      cors: {allowOrigins: ["https://*.bar.com"], allowMethods: ["*"], exposeHeaders: [x-a, x-b], allowCredentials: true}
    backendRefs: [{name: svc, port: 80}]
`))
	r.noDiagnostics(t)
	rts := r.routes(t, 80, "c.example.com")
	c := rts[len(rts)-1].CORS
	if c == nil || !c.GatewayAPI || c.ForwardUnmatchedPreflights || c.AllowMethods != "*" ||
		c.ExposeHeaders != "x-a,x-b" || c.MaxAge != "5" || !c.AllowCredentials || len(c.AllowOrigins) != 1 {
		t.Fatalf("cors: %+v", c)
	}
	if o := c.AllowOrigins[0]; o.Kind != snapshot.Regex {
		t.Fatalf("wildcard origin: %+v", o)
	}
}

// A listener without routes is reported in the Gateway API's own words: the derived Istio
// server and VirtualServices are internal and never named to the user.
func TestListenerWithoutRoutesWording(t *testing.T) {
	r := run(t, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: portcullis
  listeners: [{name: http, port: 8080, protocol: HTTP}]
`)
	ds := r.Attribute(r.diags)
	if len(ds) != 1 {
		t.Fatalf("diagnostics = %v, want one", ds)
	}
	d := ds[0]
	if d.Severity != diag.Warning || d.Field != "spec.listeners[0]" ||
		!strings.Contains(d.Message, "listener http: no route attaches to it; requests get 404") ||
		strings.Contains(d.Message, "VirtualService") {
		t.Errorf("diagnostic = %s", d)
	}
}
