package dataplane_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// plainGateway serves port 80 (plain HTTP) with the given virtual host and clusters.
func plainGateway(t *testing.T, vh snapshot.VirtualHost, clusters ...snapshot.Cluster) (*gateway, *http.Client) {
	t.Helper()
	snap := &snapshot.Snapshot{Version: "v1",
		Listeners: []snapshot.Listener{{Name: "http_80", Port: 80, Protocol: snapshot.HTTP,
			Servers: []snapshot.Server{{Name: "gw/http", Hosts: []string{"*"}, VirtualHosts: []snapshot.VirtualHost{vh}}}}},
		Clusters: clusters,
	}
	g := startGateway(t, snap, nil)
	return g, g.client(t, clientConfig{Port: 80})
}

func TestRouting(t *testing.T) {
	be := backend(t, "be")
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the gateway gives up
	}))
	t.Cleanup(slow.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := hostPort(down)
	down.Close() // nothing listens there any more

	prefix := func(p string) []snapshot.Match {
		return []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: p}}}
	}
	route := func(r snapshot.Route, m []snapshot.Match) snapshot.Route { r.Match = m; return r }
	timeout := forward("timeout", "slow")
	timeout.Forward.TimeoutMillis = 50
	rewrite := forward("rewrite", "be")
	rewrite.Forward.Rewrite = &snapshot.Rewrite{URI: "/v2/", Authority: "internal.example"}
	vh := snapshot.VirtualHost{Name: "www:80", Domains: []string{"www.example.com"}, Routes: []snapshot.Route{
		route(forward("api", "be"), prefix("/api/")),
		route(rewrite, prefix("/old/")),
		route(forward("empty", "empty"), prefix("/empty")),
		route(forward("down", "down"), prefix("/down")),
		route(timeout, prefix("/slow")),
		route(forward("missing", "no-such-cluster"), prefix("/missing")),
		{Name: "redirect", Match: prefix("/moved"), Redirect: &snapshot.Redirect{Scheme: "https", URI: "/new", Code: 308}},
		{Name: "direct", Match: prefix("/teapot"), Direct: &snapshot.Direct{Status: 418, Body: "short and stout"}},
	}}
	_, c := plainGateway(t, vh, cluster("be", hostPort(be)), cluster("empty"), cluster("down", downAddr),
		cluster("slow", hostPort(slow)))

	cases := []struct {
		name, path string
		want       int
		wantPath   string
		location   string
	}{
		{name: "prefix route", path: "/api/items?q=1", want: 200, wantPath: "/api/items?q=1"},
		{name: "dot segments normalized", path: "/x/../api/./items", want: 200, wantPath: "/api/items"},
		{name: "no route", path: "/nothing", want: 404},
		{name: "dot segments cannot escape", path: "/api/../nothing", want: 404},
		{name: "prefix rewrite", path: "/old/thing", want: 200, wantPath: "/v2/thing"},
		{name: "no endpoints", path: "/empty", want: 503},
		{name: "backend down", path: "/down", want: 503},
		{name: "unknown cluster", path: "/missing", want: 503},
		{name: "route timeout", path: "/slow", want: 504},
		{name: "redirect", path: "/moved?x=1", want: 308, location: "https://www.example.com/new?x=1"},
		{name: "direct response", path: "/teapot", want: 418},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://www.example.com:8080"+tc.path, nil)
			path, _, _ := strings.Cut(tc.path, "?")
			req.URL.Opaque = "//www.example.com:8080" + path // send the path as written, dots included
			req.Host = "www.example.com:8080"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s: got %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
			if tc.location != "" && resp.Header.Get("Location") != tc.location {
				t.Fatalf("Location %q, want %q", resp.Header.Get("Location"), tc.location)
			}
		})
	}
	t.Run("rewrite path and authority reach the backend", func(t *testing.T) {
		code, e := get(t, c, "http://www.example.com/old/thing?a=b")
		if code != 200 || e.Path != "/v2/thing?a=b" || e.Host != "internal.example" {
			t.Fatalf("got %d path %q host %q", code, e.Path, e.Host)
		}
	})
	t.Run("normalized path reaches the backend", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://www.example.com/", nil)
		req.URL.Opaque = "//www.example.com/x/..//api/./items"
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
}

// Round robin over endpoints and weighted clusters.
func TestLoadBalancing(t *testing.T) {
	b1, b2, b3 := backend(t, "b1"), backend(t, "b2"), backend(t, "b3")
	split := snapshot.Route{Name: "split", Forward: &snapshot.Forward{Clusters: []snapshot.WeightedCluster{
		{Cluster: "pair", Weight: 75}, {Cluster: "solo", Weight: 25}}}}
	_, c := plainGateway(t, snapshot.VirtualHost{Name: "lb", Domains: []string{"*"}, Routes: []snapshot.Route{split}},
		cluster("pair", hostPort(b1), hostPort(b2)), cluster("solo", hostPort(b3)))
	seen := map[string]int{}
	for range 100 {
		code, e := get(t, c, "http://lb.example.com/")
		if code != 200 {
			t.Fatalf("got %d", code)
		}
		seen[e.Backend]++
	}
	// The weighted pick uses a counter, so 100 requests split exactly 75/25, and round
	// robin halves the 75.
	if seen["b3"] != 25 || seen["b1"] < 36 || seen["b1"] > 39 || seen["b1"]+seen["b2"] != 75 {
		t.Fatalf("distribution %v, want b3=25 and b1≈b2≈37", seen)
	}
}
