package router

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

var present = &snapshot.StringMatch{Kind: snapshot.Present}

func TestRouteHeaderPresence(t *testing.T) {
	h := func(name string, sm *snapshot.StringMatch) []snapshot.Match {
		return []snapshot.Match{{Headers: []snapshot.HeaderMatch{{Name: name, Value: *sm}}}}
	}
	runMatchCases(t, []matchCase{
		{"present", h("x-debug", present), request("GET", "/", "X-Debug", "1"), true},
		{"present empty value", h("x-debug", present), request("GET", "/", "X-Debug", ""), true},
		{"present absent", h("x-debug", present), request("GET", "/"), false},
	})
}

func TestRouteWithoutHeaders(t *testing.T) {
	wo := func(name string, sm *snapshot.StringMatch) []snapshot.Match {
		return []snapshot.Match{{URI: prefix("/admin"), WithoutHeaders: []snapshot.HeaderMatch{{Name: name, Value: *sm}}}}
	}
	runMatchCases(t, []matchCase{
		{"presence: header absent matches", wo("x-internal", present), request("GET", "/admin"), true},
		{"presence: header present does not", wo("x-internal", present), request("GET", "/admin", "X-Internal", "yes"), false},
		{"presence: empty value is present", wo("x-internal", present), request("GET", "/admin", "X-Internal", ""), false},
		{"exact: absent header is empty, matches", wo("x-internal", exact("yes")), request("GET", "/admin"), true},
		{"exact: other value matches", wo("x-internal", exact("yes")), request("GET", "/admin", "X-Internal", "no"), true},
		{"exact: that value does not", wo("x-internal", exact("yes")), request("GET", "/admin", "X-Internal", "yes"), false},
		{"exact empty: absent header is empty, no match", wo("x-internal", exact("")), request("GET", "/admin"), false},
		{"regex", wo("x-internal", regex("y.*")), request("GET", "/admin", "X-Internal", "yes"), false},
		{"other conditions still apply", wo("x-internal", present), request("GET", "/public"), false},
	})
}

func TestRouteScheme(t *testing.T) {
	m := []snapshot.Match{{Scheme: exact("http")}}
	tlsReq := request("GET", "/")
	tlsReq.TLS = &tls.ConnectionState{}
	runMatchCases(t, []matchCase{
		{"http", m, request("GET", "/"), true},
		{"https does not match http", m, tlsReq, false},
		{"https", []snapshot.Match{{Scheme: exact("https")}}, tlsReq, true},
		{"X-Forwarded-Proto is not the scheme", m, func() *http.Request {
			r := request("GET", "/", "X-Forwarded-Proto", "https")
			return r
		}(), true},
	})
}

func TestRouteQueryPresence(t *testing.T) {
	q := []snapshot.Match{{QueryParams: []snapshot.HeaderMatch{{Name: "debug", Value: *present}}}}
	runMatchCases(t, []matchCase{
		{"present", q, request("GET", "/?debug=1"), true},
		{"present without value", q, request("GET", "/?debug"), true},
		{"absent", q, request("GET", "/?other=1"), false},
	})
}

// TestPickPerRoute: each route keeps its own split whatever the others see. Requests
// alternate between a 99/1 route and a 50/50 route (the reproduction: with one
// shared counter the canary got nothing).
func TestPickPerRoute(t *testing.T) {
	split := func(name string, a, b uint32) snapshot.Route {
		return snapshot.Route{Name: name, Match: []snapshot.Match{{URI: prefix("/" + name)}},
			Forward: &snapshot.Forward{Clusters: []snapshot.WeightedCluster{{Cluster: name + "-a", Weight: a}, {Cluster: name + "-b", Weight: b}}}}
	}
	tb, err := Compile([]snapshot.VirtualHost{{Name: "vh", Domains: []string{"*"},
		Routes: []snapshot.Route{split("canary", 99, 1), split("half", 50, 50), split("odd", 33, 67)}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	run, maxRun, last := 0, 0, ""
	for i := range 10000 {
		for _, p := range []string{"/canary", "/half", "/odd"} {
			if p == "/odd" && i%3 != 0 {
				continue // uneven traffic between routes
			}
			res := tb.Match("h", request("GET", p))
			c := res.Pick().Cluster
			got[c]++
			if p == "/half" {
				if c == last {
					run++
				} else {
					run, last = 1, c
				}
				maxRun = max(maxRun, run)
			}
		}
	}
	if n := got["canary-b"]; n < 50 || n > 150 { // 1 % ± 0.5 % of 10,000
		t.Errorf("canary got %d of 10000, want 100 ± 50", n)
	}
	if a, b := got["half-a"], got["half-b"]; a < 4800 || a > 5200 || a+b != 10000 {
		t.Errorf("50/50 split %d/%d", a, b)
	}
	if maxRun > 2 {
		t.Errorf("50/50 split sent a run of %d to one side", maxRun)
	}
	if n := got["odd-a"]; n < 3334*31/100 || n > 3334*35/100 {
		t.Errorf("33/67 split: %d of %d", n, got["odd-a"]+got["odd-b"])
	}
}

func TestPickerCycle(t *testing.T) {
	for _, ws := range [][]uint32{{99, 1}, {50, 50}, {10, 20, 70}, {0, 100}, {100, 0}, {1, 1, 1}, {700, 300}, {5000, 5000}} {
		var cs []snapshot.WeightedCluster
		var total uint32
		for i, w := range ws {
			cs = append(cs, snapshot.WeightedCluster{Cluster: fmt.Sprint(i), Weight: w})
			total += w
		}
		p := newPicker(cs)
		count := make([]int, len(ws))
		for _, i := range p.cycle {
			count[i]++
		}
		for i, w := range ws {
			want := int(uint64(w) * uint64(len(p.cycle)) / uint64(total))
			if count[i] != want {
				t.Errorf("weights %v: cluster %d appears %d times in a cycle of %d, want %d", ws, i, count[i], len(p.cycle), want)
			}
		}
	}
}

func TestPickZeroAlloc(t *testing.T) {
	tb, err := Compile([]snapshot.VirtualHost{{Name: "vh", Domains: []string{"*"},
		Routes: []snapshot.Route{{Name: "r", Forward: &snapshot.Forward{Clusters: []snapshot.WeightedCluster{{Cluster: "a", Weight: 90}, {Cluster: "b", Weight: 10}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := request("GET", "/")
	if n := testing.AllocsPerRun(100, func() { tb.Match("h", r).Pick() }); n != 0 {
		t.Errorf("Match+Pick allocates %v times", n)
	}
}

func TestRegexRewrite(t *testing.T) {
	cases := []struct{ re, sub, in, want string }{
		{"^/service/([^/]+)(/.*)$", `\2/instance/\1`, "/service/foo/v1/api", "/v1/api/instance/foo"},
		{"one", "two", "/xxx/one/yyy/one/zzz", "/xxx/two/yyy/two/zzz"}, // every match, as RE2 GlobalReplace
		{"^/aaa/(.*)", `/$1\1`, "/aaa/b", "/$1b"},                      // "$" is literal
		{"^/(.*)$", `/x\\y/\1`, "/p", `/x\y/p`},
	}
	for _, tc := range cases {
		tb, err := Compile([]snapshot.VirtualHost{{Name: "vh", Domains: []string{"*"},
			Routes: []snapshot.Route{{Name: "r", Forward: &snapshot.Forward{Clusters: []snapshot.WeightedCluster{{Cluster: "a", Weight: 100}},
				Rewrite: &snapshot.Rewrite{Regex: tc.re, Substitution: tc.sub}}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := tb.Match("h", request("GET", tc.in)).RewritePath(tc.in); got != tc.want {
			t.Errorf("%q → %q: got %q, want %q", tc.re, tc.sub, got, tc.want)
		}
	}
}

func TestRouteHostHeader(t *testing.T) {
	m := []snapshot.Match{{Headers: []snapshot.HeaderMatch{{Name: "host", Value: *exact("a.example")}}}}
	withHost := func(r *http.Request, host string) *http.Request { r.Host = host; return r }
	runMatchCases(t, []matchCase{
		{"host header is the authority", m, withHost(request("GET", "/"), "a.example"), true},
		{"other host", m, withHost(request("GET", "/"), "b.example"), false},
	})
}
