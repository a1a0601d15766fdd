package router

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func exact(v string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Exact, Value: v}
}
func prefix(v string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Prefix, Value: v}
}
func regex(v string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Regex, Value: v}
}

func forward(cluster string) *snapshot.Forward {
	return &snapshot.Forward{Clusters: []snapshot.WeightedCluster{{Cluster: cluster, Weight: 100}}}
}

// walkthrough is the FooCorp table: two hosts, each with uri exact "/".
func walkthrough() []snapshot.VirtualHost {
	return []snapshot.VirtualHost{
		{Name: "frontend.foocorp.com:443", Domains: []string{"frontend.foocorp.com"}, Routes: []snapshot.Route{
			{Name: "default/frontend/0", Match: []snapshot.Match{{URI: exact("/")}},
				Forward: forward("outbound|80||frontend.ux.svc.cluster.local")},
		}},
		{Name: "inventory.foocorp.com:443", Domains: []string{"inventory.foocorp.com"}, Routes: []snapshot.Route{
			{Name: "default/inventory/0", Match: []snapshot.Match{{URI: exact("/")}},
				Forward: forward("outbound|80||inventory.corp-services.svc.cluster.local")},
		}},
	}
}

func request(method, target string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

type outcome struct {
	Route      string // route name, "" for nil
	VhostFound bool
}

func route(t *testing.T, tb *Table, host string, r *http.Request) outcome {
	t.Helper()
	rt, found := tb.Route(host, r)
	o := outcome{VhostFound: found}
	if rt != nil {
		o.Route = rt.Name
	}
	return o
}

func TestRouteWalkthrough(t *testing.T) {
	tb, err := Compile(walkthrough())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, host, target string
		want               outcome
	}{
		{"frontend root", "frontend.foocorp.com", "/", outcome{"default/frontend/0", true}},
		{"inventory root", "inventory.foocorp.com:443", "/", outcome{"default/inventory/0", true}},
		{"host case and port", "Inventory.FooCorp.com:443", "/", outcome{"default/inventory/0", true}},
		{"query ignored by exact", "frontend.foocorp.com", "/?a=b", outcome{"default/frontend/0", true}},
		{"exact does not match longer path", "frontend.foocorp.com", "/x", outcome{"", true}},
		{"unknown host", "evil.example", "/", outcome{"", false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := route(t, tb, tc.host, request("GET", tc.target))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Route(%q, %q) (-want +got):\n%s", tc.host, tc.target, diff)
			}
		})
	}
}

// matchCase runs one route with the given matches against one request.
type matchCase struct {
	name    string
	matches []snapshot.Match
	req     *http.Request
	want    bool
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := Compile([]snapshot.VirtualHost{{Name: "vh", Domains: []string{"*"},
				Routes: []snapshot.Route{{Name: "r", Match: tc.matches, Direct: &snapshot.Direct{Status: 200}}}}})
			if err != nil {
				t.Fatal(err)
			}
			rt, found := tb.Route(tc.req.Host, tc.req)
			if !found {
				t.Fatal("virtual host not found")
			}
			if diff := cmp.Diff(tc.want, rt != nil); diff != "" {
				t.Errorf("matched (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRouteURI(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"no match means everything", nil, request("GET", "/anything"), true},
		{"exact", []snapshot.Match{{URI: exact("/a")}}, request("GET", "/a"), true},
		{"exact is case-sensitive", []snapshot.Match{{URI: exact("/a")}}, request("GET", "/A"), false},
		{"exact ignores query", []snapshot.Match{{URI: exact("/a")}}, request("GET", "/a?x=1"), true},
		{"exact not prefix", []snapshot.Match{{URI: exact("/a")}}, request("GET", "/a/b"), false},
		{"prefix", []snapshot.Match{{URI: prefix("/api")}}, request("GET", "/api/v1"), true},
		{"prefix is string prefix", []snapshot.Match{{URI: prefix("/api")}}, request("GET", "/apis"), true},
		{"prefix miss", []snapshot.Match{{URI: prefix("/api")}}, request("GET", "/ap"), false},
		{"regex full match", []snapshot.Match{{URI: regex("/v[0-9]+")}}, request("GET", "/v12"), true},
		{"regex anchored end", []snapshot.Match{{URI: regex("/v[0-9]+")}}, request("GET", "/v12/x"), false},
		{"regex anchored start", []snapshot.Match{{URI: regex("v[0-9]+")}}, request("GET", "/v1"), false},
		{"regex alternation anchored", []snapshot.Match{{URI: regex("/a|/b")}}, request("GET", "/bc"), false},
		{"regex ignores query", []snapshot.Match{{URI: regex("/q")}}, request("GET", "/q?z=1"), true},
		{"ignoreUriCase exact", []snapshot.Match{{URI: exact("/Login"), IgnoreURICase: true}}, request("GET", "/LOGIN"), true},
		{"ignoreUriCase prefix", []snapshot.Match{{URI: prefix("/API/"), IgnoreURICase: true}}, request("GET", "/api/x"), true},
		{"ignoreUriCase prefix short path", []snapshot.Match{{URI: prefix("/API/"), IgnoreURICase: true}}, request("GET", "/ap"), false},
		{"ignoreUriCase not for regex", []snapshot.Match{{URI: regex("/abc"), IgnoreURICase: true}}, request("GET", "/ABC"), false},
		{"decoded path", []snapshot.Match{{URI: prefix("/admin/")}}, request("GET", "/admin%2Fx"), true},
	})
}

func TestRouteMethodAuthority(t *testing.T) {
	withHost := func(r *http.Request, host string) *http.Request { r.Host = host; return r }
	runMatchCases(t, []matchCase{
		{"method exact", []snapshot.Match{{Method: exact("POST")}}, request("POST", "/"), true},
		{"method miss", []snapshot.Match{{Method: exact("POST")}}, request("GET", "/"), false},
		{"method regex", []snapshot.Match{{Method: regex("GET|HEAD")}}, request("HEAD", "/"), true},
		{"authority exact without port", []snapshot.Match{{Authority: exact("a.example")}}, withHost(request("GET", "/"), "a.example"), true},
		{"authority keeps port", []snapshot.Match{{Authority: exact("a.example")}}, withHost(request("GET", "/"), "a.example:8443"), false},
		{"authority prefix", []snapshot.Match{{Authority: prefix("a.")}}, withHost(request("GET", "/"), "a.example:8443"), true},
		{"authority is case-sensitive", []snapshot.Match{{Authority: exact("a.example")}}, withHost(request("GET", "/"), "A.example"), false},
	})
}

func TestRouteHeaders(t *testing.T) {
	h := func(name string, sm *snapshot.StringMatch) []snapshot.Match {
		return []snapshot.Match{{Headers: []snapshot.HeaderMatch{{Name: name, Value: *sm}}}}
	}
	runMatchCases(t, []matchCase{
		{"exact", h("x-user", exact("alice")), request("GET", "/", "X-User", "alice"), true},
		{"exact miss", h("x-user", exact("alice")), request("GET", "/", "X-User", "bob"), false},
		{"absent", h("x-user", exact("alice")), request("GET", "/"), false},
		{"prefix", h("x-user", prefix("al")), request("GET", "/", "x-user", "alice"), true},
		{"regex", h("x-version", regex("v[12]")), request("GET", "/", "X-Version", "v2"), true},
		{"regex anchored", h("x-version", regex("v[12]")), request("GET", "/", "X-Version", "v22"), false},
		{"value case-sensitive", h("x-user", exact("alice")), request("GET", "/", "X-User", "Alice"), false},
		{"empty exact needs empty value", h("x-flag", exact("")), request("GET", "/", "X-Flag", ""), true},
		{"empty exact absent", h("x-flag", exact("")), request("GET", "/"), false},
		{"presence only", h("x-flag", &snapshot.StringMatch{}), request("GET", "/", "X-Flag", "anything"), true},
		{"presence only absent", h("x-flag", &snapshot.StringMatch{}), request("GET", "/"), false},
		{"repeated header joined", h("x-user", exact("alice")), request("GET", "/", "X-User", "alice", "X-User", "eve"), false},
		{"repeated header joined match", h("x-user", exact("alice,eve")), request("GET", "/", "X-User", "alice", "X-User", "eve"), true},
	})
}

func TestRouteQueryParams(t *testing.T) {
	q := func(name string, sm *snapshot.StringMatch) []snapshot.Match {
		return []snapshot.Match{{QueryParams: []snapshot.HeaderMatch{{Name: name, Value: *sm}}}}
	}
	runMatchCases(t, []matchCase{
		{"exact", q("v", exact("2")), request("GET", "/?a=1&v=2"), true},
		{"exact miss", q("v", exact("2")), request("GET", "/?v=3"), false},
		{"absent", q("v", exact("2")), request("GET", "/?a=2"), false},
		{"first value wins", q("v", exact("2")), request("GET", "/?v=1&v=2"), false},
		{"prefix", q("v", prefix("be")), request("GET", "/?v=beta"), true},
		{"regex", q("id", regex("[0-9]+")), request("GET", "/?id=42"), true},
		{"regex anchored", q("id", regex("[0-9]+")), request("GET", "/?id=42x"), false},
		{"percent-decoded value", q("name", exact("a b/c")), request("GET", "/?name=a%20b%2Fc"), true},
		{"plus decoded", q("name", exact("a b")), request("GET", "/?name=a+b"), true},
		{"encoded key", q("my key", exact("1")), request("GET", "/?my%20key=1"), true},
		{"no equals is empty value", q("debug", exact("")), request("GET", "/?debug"), true},
		{"bad escape skipped", q("v", exact("1")), request("GET", "/?v=%zz&v=1"), true},
		{"name case-sensitive", q("v", exact("1")), request("GET", "/?V=1"), false},
		{"empty pairs", q("v", exact("1")), request("GET", "/?&&v=1&"), true},
	})
}

func TestRouteAndOr(t *testing.T) {
	and := []snapshot.Match{{URI: prefix("/api"), Method: exact("GET"),
		Headers: []snapshot.HeaderMatch{{Name: "x-env", Value: *exact("canary")}}}}
	or := []snapshot.Match{{URI: exact("/a")}, {URI: exact("/b"), Method: exact("POST")}}
	runMatchCases(t, []matchCase{
		{"and all hold", and, request("GET", "/api/x", "X-Env", "canary"), true},
		{"and one fails (header)", and, request("GET", "/api/x", "X-Env", "prod"), false},
		{"and one fails (method)", and, request("PUT", "/api/x", "X-Env", "canary"), false},
		{"or first", or, request("GET", "/a"), true},
		{"or second", or, request("POST", "/b"), true},
		{"or second partly", or, request("GET", "/b"), false},
		{"or none", or, request("GET", "/c"), false},
	})
}

func TestRouteOrderAndResult(t *testing.T) {
	vhosts := []snapshot.VirtualHost{
		{Name: "exact", Domains: []string{"a.example"}, Routes: []snapshot.Route{
			{Name: "api", Match: []snapshot.Match{{URI: exact("/x")}, {URI: prefix("/api/")}}, Forward: forward("api")},
			{Name: "api-shadowed", Match: []snapshot.Match{{URI: prefix("/api/v2")}}, Forward: forward("v2")},
			{Name: "catch-all", Forward: forward("web")},
		}},
		{Name: "wild", Domains: []string{"*.example", "a.example"}, Routes: []snapshot.Route{
			{Name: "wild-root", Match: []snapshot.Match{{URI: exact("/")}}, Forward: forward("wild")},
		}},
	}
	tb, err := Compile(vhosts)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, host, target string
		want               outcome
	}{
		{"first matching route wins", "a.example", "/api/v2/x", outcome{"api", true}},
		{"falls through to catch-all", "a.example", "/other", outcome{"catch-all", true}},
		{"first vhost keeps domain", "A.EXAMPLE.", "/", outcome{"catch-all", true}},
		{"wildcard vhost", "b.example", "/", outcome{"wild-root", true}},
		{"wildcard vhost no route", "b.example", "/nope", outcome{"", true}},
		{"no vhost", "example", "/", outcome{"", false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, route(t, tb, tc.host, request("GET", tc.target))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	res := tb.Match("a.example", request("GET", "/api/v1"))
	if res.VirtualHost != &vhosts[0] || res.Route != &vhosts[0].Routes[0] || res.Match != &vhosts[0].Routes[0].Match[1] {
		t.Errorf("Match result does not point at the matching snapshot elements: %+v", res)
	}
	if got := tb.VirtualHost("x.example:80"); got != &vhosts[1] {
		t.Errorf("VirtualHost(x.example) = %v, want the wildcard vhost", got)
	}
	if got := tb.VirtualHost("nope"); got != nil {
		t.Errorf("VirtualHost(nope) = %v, want nil", got)
	}
	var nilTable *Table
	if rt, found := nilTable.Route("a.example", request("GET", "/")); rt != nil || found {
		t.Errorf("nil Table Route = %v, %v", rt, found)
	}
}

func TestCompileErrors(t *testing.T) {
	vhosts := []snapshot.VirtualHost{{Name: "vh", Domains: []string{"*"}, Routes: []snapshot.Route{
		{Name: "ns/vs/0", Match: []snapshot.Match{{URI: regex("(")}}},
		{Name: "ns/vs/1", Match: []snapshot.Match{{Headers: []snapshot.HeaderMatch{{Name: "x", Value: snapshot.StringMatch{Kind: "glob", Value: "*"}}}}}},
	}}}
	_, err := Compile(vhosts)
	if err == nil {
		t.Fatal("Compile: want error")
	}
	for _, want := range []string{`virtual host "vh" route "ns/vs/0" match[0]: uri: regex "("`, `route "ns/vs/1" match[0]: headers[x]: unknown match kind "glob"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestRouteZeroAlloc(t *testing.T) {
	tb, err := Compile(bigTable(100))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*http.Request{
		request("GET", "/svc99/x"),
		request("GET", "/nothing"),
		request("POST", "/exact/49", "X-Tenant", "t49"),
	} {
		if n := testing.AllocsPerRun(100, func() { tb.Route("Host.Example.COM:443", r) }); n != 0 {
			t.Errorf("Route(%s %s) allocates %v times", r.Method, r.URL, n)
		}
	}
}
