package dataplane_test

import (
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func ejected(g *gateway, cluster string) []string {
	var out []string
	for _, h := range g.dp.UpstreamHealth() {
		if h.Cluster == cluster {
			for _, e := range h.Ejected {
				out = append(out, e.Endpoint)
			}
		}
	}
	return out
}

// TestOutlierThroughRetriesMirrorsAndSwaps: every attempt reports — a retried connect
// failure (Istio's default retry policy), a mirror's — and an ejection survives a new
// snapshot of the same cluster.
func TestOutlierThroughRetriesMirrorsAndSwaps(t *testing.T) {
	be := backend(t, "be")
	dead, deadMirror := deadAddr(t), deadAddr(t)
	od := &snapshot.OutlierDetection{Consecutive5xx: 2, IntervalMillis: 60000, BaseEjectionMillis: 60000, MaxEjectionMillis: 300000, MaxEjectionPercent: 100}
	main := cluster("main", hostPort(be), dead)
	main.Outlier = od
	mirror := cluster("mirror", hostPort(be), deadMirror)
	mirror.Outlier = od
	vh := snapshot.VirtualHost{Name: "all", Domains: []string{"*"}, Routes: []snapshot.Route{
		withForward(forward("all", "main"), func(f *snapshot.Forward) {
			f.Mirrors = []snapshot.Mirror{{Cluster: "mirror", Fraction: snapshot.Million}}
		}),
	}}
	snap := snapshot.Snapshot{Version: "v1",
		Listeners: []snapshot.Listener{{Name: "http_80", Port: 80, Protocol: snapshot.HTTP,
			Servers: []snapshot.Server{{Name: "gw/http", Hosts: []string{"*"}, VirtualHosts: []snapshot.VirtualHost{vh}}}}},
		Clusters: []snapshot.Cluster{main, mirror},
	}
	first := snap
	g := startGateway(t, &first, nil)
	c := g.client(t, clientConfig{Port: 80})
	base := "http://" + g.dp.Addr(80).String()
	// The default retry policy retries connect failures on another endpoint: every
	// request succeeds, and the dead endpoint's failed attempts still count.
	for i := range 6 {
		if resp, _ := send(t, c, "GET", base+"/", ""); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if got := ejected(g, "main"); len(got) != 1 || got[0] != dead {
		t.Fatalf("main cluster ejected %v, want [%s]", got, dead)
	}
	waitFor(t, "the mirror's dead endpoint ejected", func() bool {
		got := ejected(g, "mirror")
		return len(got) == 1 && got[0] == deadMirror
	})
	// A new snapshot with the same clusters keeps the ejections.
	snap.Version = "v2"
	if err := g.dp.Update(&snap); err != nil {
		t.Fatal(err)
	}
	if got := ejected(g, "main"); len(got) != 1 {
		t.Fatalf("ejection lost across the swap: %v", got)
	}
}
