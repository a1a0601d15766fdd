package router

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// bigTable is one virtual host (plus decoys) with n rules mixing the match kinds Istio
// users write most: path prefixes, exact paths with method and header, case-insensitive
// exact paths. No catch-all, so a miss scans every rule.
func bigTable(n int) []snapshot.VirtualHost {
	var routes []snapshot.Route
	for i := range n {
		var m snapshot.Match
		switch i % 3 {
		case 0:
			m = snapshot.Match{URI: prefix(fmt.Sprintf("/svc%d/", i))}
		case 1:
			m = snapshot.Match{URI: exact(fmt.Sprintf("/exact/%d", i)), Method: exact("POST"),
				Headers: []snapshot.HeaderMatch{{Name: "x-tenant", Value: *exact(fmt.Sprintf("t%d", i))}}}
		case 2:
			m = snapshot.Match{URI: exact(fmt.Sprintf("/E%d", i)), IgnoreURICase: true}
		}
		routes = append(routes, snapshot.Route{Name: fmt.Sprintf("r%d", i), Match: []snapshot.Match{m}, Forward: forward("c")})
	}
	return []snapshot.VirtualHost{
		{Name: "decoy", Domains: []string{"decoy.example.com"}},
		{Name: "main", Domains: []string{"host.example.com"}, Routes: routes},
		{Name: "wild", Domains: []string{"*.example.com"}},
	}
}

func hostPatterns(n int) [][]string {
	ps := make([][]string, 0, n)
	for i := range n {
		switch i % 4 {
		case 0:
			ps = append(ps, []string{fmt.Sprintf("*.team%d.example.com", i)})
		case 1:
			ps = append(ps, []string{fmt.Sprintf("*.eu.team%d.example.com", i-1)})
		default:
			ps = append(ps, []string{fmt.Sprintf("svc%d.example.com", i)})
		}
	}
	return append(ps, []string{"*"})
}

func BenchmarkHostsLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		h := NewHosts(hostPatterns(n))
		for _, q := range []struct{ name, host string }{
			{"exact", fmt.Sprintf("svc%d.example.com", n-2)},
			{"exact-upper-port", fmt.Sprintf("SVC%d.Example.com:443", n-2)},
			{"wildcard", "a.b.eu.team4.example.com"},
			{"star", "unknown.host.example.org"},
		} {
			b.Run(fmt.Sprintf("hosts=%d/%s", n, q.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					h.Lookup(q.host)
				}
			})
		}
	}
}

func BenchmarkRoute(b *testing.B) {
	wt, err := Compile(walkthrough())
	if err != nil {
		b.Fatal(err)
	}
	big, err := Compile(bigTable(100))
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		t    *Table
		host string
		r    *http.Request
	}{
		{"walkthrough/hit", wt, "inventory.foocorp.com:443", request("GET", "/")},
		{"walkthrough/miss", wt, "inventory.foocorp.com", request("GET", "/nope")},
		{"100rules/first", big, "host.example.com", request("GET", "/svc0/x")},
		{"100rules/last", big, "host.example.com", request("GET", "/svc99/x")},
		{"100rules/header", big, "host.example.com", request("POST", "/exact/97", "X-Tenant", "t97")},
		{"100rules/miss", big, "Host.Example.com:443", request("GET", "/none")},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.t.Route(tc.host, tc.r)
			}
		})
	}
}
