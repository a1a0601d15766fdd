package router

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func traceTable(t testing.TB) *Table {
	sm := func(k snapshot.MatchKind, v string) *snapshot.StringMatch {
		return &snapshot.StringMatch{Kind: k, Value: v}
	}
	vhosts := []snapshot.VirtualHost{{
		Name: "a", Domains: []string{"a.example", "*.wild.example"},
		Routes: []snapshot.Route{
			{Name: "ns/vs/0", Match: []snapshot.Match{{URI: sm(snapshot.Exact, "/x"), Method: sm(snapshot.Exact, "POST")}}},
			{Name: "ns/vs/1", Match: []snapshot.Match{
				{Headers: []snapshot.HeaderMatch{{Name: "x-user", Value: snapshot.StringMatch{Kind: snapshot.Exact, Value: "admin"}}}},
				{QueryParams: []snapshot.HeaderMatch{{Name: "q", Value: snapshot.StringMatch{Kind: snapshot.Regex, Value: "[0-9]+"}}}},
			}},
			{Name: "ns/vs/2", Match: []snapshot.Match{{URI: sm(snapshot.Prefix, "/API"), IgnoreURICase: true, Authority: sm(snapshot.Prefix, "a.")}}},
			{Name: "ns/vs/3", Match: []snapshot.Match{{URI: sm(snapshot.Regex, "/r/[a-z]+")}}},
		},
	}, {
		Name: "b", Domains: []string{"b.example"},
		Routes: []snapshot.Route{{Name: "ns/b/0", Match: []snapshot.Match{{URI: sm(snapshot.Prefix, "/")}}}, {Name: "ns/b/1"}},
	}}
	tb, err := Compile(vhosts)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// checkTrace asserts MatchTrace agrees with Match and that its trace is consistent: the
// routes tried end with the winner (when any), every clause of a losing route has a
// reason, and the selected clause none.
func checkTrace(t *testing.T, tb *Table, host string, r *http.Request) {
	t.Helper()
	want := tb.Match(host, r)
	got, tr := tb.MatchTrace(host, r)
	if got != want {
		t.Fatalf("%s %s%s: Match %+v, MatchTrace %+v", r.Method, host, r.URL, want, got)
	}
	for i, rt := range tr {
		last := i == len(tr)-1
		if rt.Selected != (last && want.Route != nil) {
			t.Fatalf("route %s: selected %v, last %v, winner %v", rt.Route.Name, rt.Selected, last, want.Route != nil)
		}
		if rt.Selected && rt.Route != want.Route {
			t.Fatalf("trace selects %s, Match %s", rt.Route.Name, want.Route.Name)
		}
		for k, why := range rt.Clauses {
			if (why == "") != (rt.Selected && k == len(rt.Clauses)-1) {
				t.Fatalf("route %s clause %d: reason %q (selected %v)", rt.Route.Name, k, why, rt.Selected)
			}
		}
	}
	if want.VirtualHost != nil && want.Route == nil && len(tr) != len(tb.vhosts[tb.hosts.Lookup(host)].routes) {
		t.Fatalf("no winner but only %d routes traced", len(tr))
	}
}

func traceRequest(method, host, target, user string) *http.Request {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	r := &http.Request{Method: method, Host: host, URL: u, Header: http.Header{}}
	if user != "" {
		r.Header.Set("X-User", user)
	}
	return r
}

func TestMatchTraceAgrees(t *testing.T) {
	tb := traceTable(t)
	for _, c := range []struct{ method, host, target, user, want string }{
		{"POST", "a.example", "/x", "", "ns/vs/0"},
		{"GET", "a.example", "/x", "admin", "ns/vs/1"},
		{"GET", "a.example", "/x?q=12", "", "ns/vs/1"},
		{"GET", "a.example", "/api/v1", "", "ns/vs/2"},
		{"GET", "x.wild.example", "/api/v1", "", ""},
		{"GET", "a.example", "/r/abc", "", "ns/vs/3"},
		{"GET", "a.example", "/r/ABC?q=x", "eve", ""},
		{"GET", "b.example", "/anything", "", "ns/b/0"},
		{"GET", "nowhere.example", "/", "", ""},
	} {
		r := traceRequest(c.method, c.host, c.target, c.user)
		checkTrace(t, tb, c.host, r)
		res, tr := tb.MatchTrace(c.host, r)
		name := ""
		if res.Route != nil {
			name = res.Route.Name
		}
		if name != c.want {
			t.Errorf("%s %s%s: route %q, want %q (trace %+v)", c.method, c.host, c.target, name, c.want, tr)
		}
	}
}

func FuzzMatchTrace(f *testing.F) {
	f.Add("POST", "a.example", "/x", "admin")
	f.Add("GET", "a.example", "/API/x?q=7", "")
	f.Add("GET", "z.wild.example", "/r/q", "x")
	tb := traceTable(f)
	f.Fuzz(func(t *testing.T, method, host, target, user string) {
		checkTrace(t, tb, host, traceRequest(method, host, target, user))
	})
}
