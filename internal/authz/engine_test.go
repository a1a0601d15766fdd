package authz

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/authz/engine"
	"github.com/portcullis/portcullis/internal/decode"
	"github.com/portcullis/portcullis/internal/diag"
)

var gwOpts = Options{Namespace: "istio-system", Labels: map[string]string{"istio": "ingressgateway"}}

// engine decodes manifests, translates and compiles them.
func compile(t testing.TB, rt *engine.Runtime, manifests string) (*engine.Engine, []diag.Diagnostic) {
	t.Helper()
	b := decode.Decode([]byte(manifests), "test.yaml")
	for _, d := range b.Diagnostics {
		t.Fatalf("decode: %s", d)
	}
	sec, ds := Translate(b, gwOpts)
	if rt == nil {
		var err error
		if rt, err = engine.NewRuntime(engine.RuntimeOptions{TrustedHops: 1}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rt.Close)
	}
	e, err := rt.Compile(sec)
	if err != nil {
		t.Fatal(err)
	}
	return e, ds
}

// req builds a request as the handler sees it (normalized path).
type req struct {
	method, host, path, peer string
	hdr                      map[string]string
	cert                     *x509.Certificate
	sni                      string
}

func (q req) build() *http.Request {
	m := q.method
	if m == "" {
		m = "GET"
	}
	h := q.host
	if h == "" {
		h = "www.example.com"
	}
	r := httptest.NewRequest(m, "https://"+h+q.path, nil)
	r.Host = h
	r.RemoteAddr = "10.0.0.1:5555"
	if q.peer != "" {
		r.RemoteAddr = q.peer
	}
	for k, v := range q.hdr {
		r.Header.Set(k, v)
	}
	r.TLS = &tls.ConnectionState{ServerName: q.sni}
	if q.sni == "" {
		r.TLS.ServerName = h
	}
	if q.cert != nil {
		r.TLS.PeerCertificates = []*x509.Certificate{q.cert}
	}
	return r
}

func ap(name, action, rules string) string {
	return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name + ", namespace: istio-system}\nspec:\n  action: " + action + "\n" + rules + "\n---\n"
}

func status(t *testing.T, e *engine.Engine, q req) int {
	t.Helper()
	if e == nil {
		return 200
	}
	d, _ := e.Decide(q.build(), 443)
	if d.Allowed {
		return 200
	}
	return d.Status
}

func spiffeCert(uri string) *x509.Certificate {
	u, _ := url.Parse(uri)
	return &x509.Certificate{URIs: []*url.URL{u}}
}

func TestEvaluation(t *testing.T) {
	cases := []struct {
		name      string
		manifests string
		ok, deny  []req
	}{
		{
			name:      "no policy allows",
			manifests: "",
			ok:        []req{{path: "/"}},
		},
		{
			name:      "ALLOW with no rules denies everything",
			manifests: ap("allow-nothing", "ALLOW", ""),
			deny:      []req{{path: "/"}},
		},
		{
			name:      "ALLOW with an empty rule allows everything",
			manifests: ap("allow-all", "ALLOW", "  rules: [{}]"),
			ok:        []req{{path: "/x"}},
		},
		{
			name:      "DENY with no rules denies nothing",
			manifests: ap("deny-nothing", "DENY", ""),
			ok:        []req{{path: "/"}},
		},
		{
			name:      "ipBlocks on the peer address",
			manifests: ap("ips", "ALLOW", "  rules: [{from: [{source: {ipBlocks: [10.0.0.0/24, 192.168.1.7]}}]}]"),
			ok:        []req{{peer: "10.0.0.9:1"}, {peer: "192.168.1.7:2"}, {peer: "[::ffff:10.0.0.3]:3"}},
			deny:      []req{{peer: "10.0.1.1:1"}, {peer: "192.168.1.8:1"}, {peer: "10.0.1.1:1", hdr: map[string]string{"X-Forwarded-For": "10.0.0.5"}}},
		},
		{
			name:      "notIpBlocks",
			manifests: ap("notips", "DENY", "  rules: [{from: [{source: {notIpBlocks: [10.0.0.0/8]}}]}]"),
			ok:        []req{{peer: "10.2.3.4:1"}},
			deny:      []req{{peer: "127.0.0.1:1"}},
		},
		{
			name:      "remoteIpBlocks from X-Forwarded-For with one trusted hop",
			manifests: ap("remote", "ALLOW", "  rules: [{from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]}]"),
			ok:        []req{{hdr: map[string]string{"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}}},
			deny: []req{
				{hdr: map[string]string{"X-Forwarded-For": "203.0.113.9, 1.2.3.4"}}, // spoofed left entry is not trusted
				{}, // no header: the peer 10.0.0.1
			},
		},
		{
			name:      "DENY paths with prefix, suffix and exact; normalized path",
			manifests: ap("deny-admin", "DENY", "  rules: [{to: [{operation: {paths: [/admin*, '*.php', /exact]}}]}]"),
			ok:        []req{{path: "/"}, {path: "/exact/"}, {path: "/adm"}, {path: "/api/admin"}},
			deny:      []req{{path: "/admin"}, {path: "/admin/x"}, {path: "/x/y.php"}, {path: "/exact"}},
		},
		{
			name:      "path templates",
			manifests: ap("tmpl", "ALLOW", "  rules: [{to: [{operation: {paths: ['/api/{*}/info', '/files/{**}']}}]}]"),
			ok:        []req{{path: "/api/v1/info"}, {path: "/files/"}, {path: "/files/a/b/c"}},
			deny:      []req{{path: "/api/v1/v2/info"}, {path: "/api//info"}, {path: "/file"}},
		},
		{
			name:      "hosts case-insensitive with wildcards, methods, ports",
			manifests: ap("ops", "ALLOW", "  rules: [{to: [{operation: {hosts: ['*.Example.com', exact.org], methods: [GET, 'PO*'], ports: ['443']}}]}]"),
			ok:        []req{{host: "a.example.COM"}, {host: "EXACT.org", method: "POST"}},
			deny:      []req{{host: "example.org"}, {host: "exact.org:443"}, {host: "a.example.com", method: "DELETE"}},
		},
		{
			name:      "notPorts and notMethods",
			manifests: ap("notops", "DENY", "  rules: [{to: [{operation: {notMethods: [GET], notPorts: ['8443']}}]}]"),
			ok:        []req{{}},
			deny:      []req{{method: "PUT"}},
		},
		{
			name:      "principals from a SPIFFE client certificate",
			manifests: ap("p", "ALLOW", "  rules: [{from: [{source: {principals: [cluster.local/ns/foo/sa/bar, 'td2/*']}}]}]"),
			ok:        []req{{cert: spiffeCert("spiffe://cluster.local/ns/foo/sa/bar")}, {cert: spiffeCert("spiffe://td2/anything")}},
			deny: []req{{cert: spiffeCert("spiffe://cluster.local/ns/foo/sa/baz")}, {}, {cert: &x509.Certificate{DNSNames: []string{"cluster.local/ns/foo/sa/bar"}}},
				{cert: &x509.Certificate{Subject: pkix.Name{CommonName: "cluster.local/ns/foo/sa/bar"}}}},
		},
		{
			name:      "principals * means any client certificate",
			manifests: ap("any", "ALLOW", "  rules: [{from: [{source: {principals: ['*']}}]}]"),
			ok:        []req{{cert: &x509.Certificate{DNSNames: []string{"client.example"}}}},
			deny:      []req{{}},
		},
		{
			name:      "namespaces from the certificate's SPIFFE identity",
			manifests: ap("ns", "ALLOW", "  rules: [{from: [{source: {namespaces: [foo, 'ba*']}}]}]"),
			ok:        []req{{cert: spiffeCert("spiffe://cluster.local/ns/foo/sa/x")}, {cert: spiffeCert("spiffe://cluster.local/ns/bar/sa/x")}},
			deny:      []req{{cert: spiffeCert("spiffe://cluster.local/ns/qux/sa/x")}, {}},
		},
		{
			name:      "when headers, sni, destination.port, source.ip, notValues",
			manifests: ap("when", "ALLOW", "  rules: [{when: [{key: 'request.headers[X-Team]', values: ['blue*']}, {key: connection.sni, values: ['*.example.com']}, {key: destination.port, values: ['443']}, {key: source.ip, notValues: [10.9.0.0/16]}]}]"),
			ok:        []req{{hdr: map[string]string{"X-Team": "blue-1"}}},
			deny:      []req{{hdr: map[string]string{"X-Team": "red"}}, {}, {hdr: map[string]string{"X-Team": "blue"}, sni: "other.org"}, {hdr: map[string]string{"X-Team": "blue"}, peer: "10.9.1.1:1"}},
		},
		{
			name:      "header * is a presence match",
			manifests: ap("hdr", "DENY", "  rules: [{when: [{key: 'request.headers[x-debug]', values: ['*']}]}]"),
			ok:        []req{{}},
			deny:      []req{{hdr: map[string]string{"X-Debug": "1"}}},
		},
		{
			name: "DENY wins over ALLOW",
			manifests: ap("allow-all", "ALLOW", "  rules: [{}]") +
				ap("deny-x", "DENY", "  rules: [{to: [{operation: {paths: [/x]}}]}]"),
			ok:   []req{{path: "/y"}},
			deny: []req{{path: "/x"}},
		},
		{
			name:      "AUDIT changes nothing",
			manifests: ap("audit", "AUDIT", "  rules: [{}]"),
			ok:        []req{{path: "/"}},
		},
		{
			name:      "CUSTOM fails closed for its matches only",
			manifests: ap("ext", "CUSTOM", "  provider: {name: opa}\n  rules: [{to: [{operation: {paths: [/ext*]}}]}]"),
			ok:        []req{{path: "/other"}},
			deny:      []req{{path: "/ext/a"}},
		},
		{
			name:      "unsupported when key: DENY rule fails closed",
			manifests: ap("bad-deny", "DENY", "  rules: [{when: [{key: 'experimental.envoy.filters.a[b]', values: [x]}]}]"),
			deny:      []req{{path: "/"}},
		},
		{
			name:      "unsupported when key: ALLOW rule allows nothing",
			manifests: ap("bad-allow", "ALLOW", "  rules: [{when: [{key: 'experimental.envoy.filters.a[b]', values: [x]}]}, {to: [{operation: {paths: [/ok]}}]}]"),
			ok:        []req{{path: "/ok"}},
			deny:      []req{{path: "/"}},
		},
		{
			name:      "dry-run DENY is not enforced",
			manifests: strings.Replace(ap("dry", "DENY", "  rules: [{}]"), "metadata: {", "metadata: {annotations: {istio.io/dry-run: 'true'}, ", 1),
			ok:        []req{{path: "/"}},
		},
		{
			name: "policy in another namespace or selecting other labels does not apply",
			manifests: strings.Replace(ap("other-ns", "ALLOW", ""), "namespace: istio-system", "namespace: default", 1) +
				strings.Replace(ap("other-labels", "ALLOW", "  selector: {matchLabels: {app: other}}"), "namespace: istio-system", "namespace: istio-system", 1),
			ok: []req{{path: "/"}},
		},
		{
			name:      "selector matching the gateway applies",
			manifests: ap("mine", "DENY", "  selector: {matchLabels: {istio: ingressgateway}}\n  rules: [{}]"),
			deny:      []req{{path: "/"}},
		},
		{
			name:      "targetRefs do not select an Istio gateway",
			manifests: ap("tr", "DENY", "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]\n  rules: [{}]"),
			ok:        []req{{path: "/"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := compile(t, nil, tc.manifests)
			for _, q := range tc.ok {
				if got := status(t, e, q); got != 200 {
					t.Errorf("%+v: got %d, want allowed", q, got)
				}
			}
			for _, q := range tc.deny {
				if got := status(t, e, q); got != 403 {
					t.Errorf("%+v: got %d, want 403", q, got)
				}
			}
		})
	}
}

func TestDiagnostics(t *testing.T) {
	_, ds := compile(t, nil, ap("bad", "DENY", "  rules: [{when: [{key: 'experimental.x[y]', values: [a]}, {key: source.ip, values: [not-an-ip]}]}, {from: [{source: {}}]}]")+
		ap("ext", "CUSTOM", "  provider: {name: opa}\n  rules: [{}]"))
	want := []string{
		"spec.rules[0].when[0].key", "spec.rules[0].when[1].values[0]", "spec.rules[1].from[0].source", "spec.action",
	}
	var got []string
	for _, d := range ds {
		if d.Severity != diag.Error {
			t.Errorf("severity %s: %s", d.Severity, d)
		}
		got = append(got, d.Field)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("fields %q, want %q\n%v", got, want, ds)
	}
}

// A policy whose spec does not decode (a typo) must not vanish: it denies everything.
func TestUnreadablePolicyFailsClosed(t *testing.T) {
	b := decode.Decode([]byte(ap("typo", "DENY", "  rules: [{from: [{source: {ipBlock: [1.2.3.4]}}]}]")), "typo.yaml")
	sec, ds := Translate(b, gwOpts)
	if len(ds) != 1 || ds[0].Field != "spec" || !strings.Contains(ds[0].Message, "fails closed") {
		t.Fatalf("diagnostics %v", ds)
	}
	rt, err := engine.NewRuntime(engine.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	e, err := rt.Compile(sec)
	if err != nil {
		t.Fatal(err)
	}
	if got := status(t, e, req{path: "/"}); got != 403 {
		t.Fatalf("got %d, want 403", got)
	}
	// Out of scope (another namespace): not applied.
	b = decode.Decode([]byte(strings.Replace(ap("typo", "DENY", "  rules: [{from: [{source: {ipBlock: [1.2.3.4]}}]}]"), "istio-system", "default", 1)), "typo.yaml")
	if sec, _ := Translate(b, gwOpts); sec != nil {
		t.Fatalf("out-of-scope unreadable policy applied: %+v", sec)
	}
}

// Selection as Istio: root namespace (any selector matching), the gateway's own namespace,
// never another; targetRefs never select an Istio gateway; selector with targetRefs is an
// error.
func TestSelection(t *testing.T) {
	in := func(ns, name, extra string) string {
		return strings.Replace(ap(name, "DENY", extra+"  rules: [{}]"), "namespace: istio-system", "namespace: "+ns, 1)
	}
	b := decode.Decode([]byte(
		in("mesh-root", "root", "")+
			in("mesh-root", "root-selected", "  selector: {matchLabels: {app: gw}}\n")+
			in("mesh-root", "root-other", "  selector: {matchLabels: {app: other}}\n")+
			in("gw-ns", "own", "")+
			in("elsewhere", "other-ns", "")+
			in("gw-ns", "both", "  selector: {matchLabels: {app: gw}}\n  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: x}]\n")), "sel.yaml")
	sec, ds := Translate(b, Options{Namespace: "gw-ns", Labels: map[string]string{"app": "gw", "x": "y"}, RootNamespace: "mesh-root"})
	var got []string
	for _, p := range sec.Policies {
		got = append(got, p.Name)
	}
	if want := "mesh-root/root mesh-root/root-selected gw-ns/own"; strings.Join(got, " ") != want {
		t.Errorf("selected %q, want %q", got, want)
	}
	if len(ds) != 1 || ds[0].Severity != diag.Error || ds[0].Name != "both" {
		t.Errorf("diagnostics %v", ds)
	}
}
