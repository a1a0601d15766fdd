package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// clock is an injected time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() (*clock, func() time.Time) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	return c, c.now
}

// countingObs counts ejections and returns; clusters report them from concurrent picks.
type countingObs struct{ ejected, returned atomic.Int64 }

func (o *countingObs) Ejected(string)  { o.ejected.Add(1) }
func (o *countingObs) Returned(string) { o.returned.Add(1) }

func one(reg *Registry, c snapshot.Cluster) *Cluster {
	return reg.Clusters([]snapshot.Cluster{c}).Get(c.Name)
}

func counts(t *testing.T, cl *Cluster, n int, k func(i int) *Key) map[string]int {
	t.Helper()
	m := map[string]int{}
	for i := range n {
		kk := k(i)
		ep, ok := cl.Pick(kk)
		if !ok {
			t.Fatalf("pick %d: no endpoint", i)
		}
		m[ep]++
		cl.Report(ep, 200, LocalNone)
	}
	return m
}

func noKey(int) *Key { return nil }

func TestWeightedRoundRobinIsExactAndSmooth(t *testing.T) {
	cl := one(NewRegistry(nil), snapshot.Cluster{Name: "c", Endpoints: []string{"a:1", "b:1", "c:1"}, EndpointWeights: []uint32{1, 1, 3}})
	if cl.lb == nil {
		t.Fatal("weighted cluster without balancer")
	}
	var seq []string
	for range 5 {
		ep, _ := cl.Pick(nil)
		seq = append(seq, ep[:1])
	}
	// Smooth: the heavy endpoint never takes three picks in a row within a cycle.
	if s := strings.Join(seq, ""); strings.Count(s, "c") != 3 || strings.Contains(s, "ccc") {
		t.Fatalf("cycle %q: want 3 c, not consecutive", s)
	}
	got := counts(t, cl, 500, noKey)
	if got["a:1"] != 100 || got["b:1"] != 100 || got["c:1"] != 300 {
		t.Fatalf("distribution %v, want 100/100/300", got)
	}
}

func TestEqualWeightsKeepPlainRoundRobin(t *testing.T) {
	cs := NewClusters([]snapshot.Cluster{{Name: "c", Endpoints: []string{"a:1", "b:1"}, EndpointWeights: []uint32{2, 2}}})
	if cs.Get("c").lb != nil {
		t.Fatal("equal weights need no balancer")
	}
	if n := testing.AllocsPerRun(100, func() { ep, _ := cs.Get("c").Pick(nil); cs.Get("c").Report(ep, 200, LocalNone) }); n != 0 {
		t.Fatalf("no-policy pick allocates %v", n)
	}
}

func TestRandomIsUniform(t *testing.T) {
	cl := one(NewRegistry(nil), snapshot.Cluster{Name: "c", Endpoints: []string{"a:1", "b:1", "c:1", "d:1"}, LB: &snapshot.LoadBalancer{Simple: "RANDOM"}})
	got := counts(t, cl, 4000, noKey)
	for ep, n := range got {
		if n < 800 || n > 1200 { // expected 1000, sd ≈ 27
			t.Fatalf("%s got %d of 4000: %v", ep, n, got)
		}
	}
}

func TestLeastRequestPrefersIdle(t *testing.T) {
	cl := one(NewRegistry(nil), snapshot.Cluster{Name: "c", Endpoints: []string{"busy:1", "idle:1"}, LB: &snapshot.LoadBalancer{Simple: "LEAST_REQUEST"}})
	// Hold five requests on busy (picks not yet reported).
	held := 0
	for held < 5 {
		ep, _ := cl.Pick(nil)
		if ep == "busy:1" {
			held++
		} else {
			cl.Report(ep, 200, LocalNone)
		}
	}
	got := counts(t, cl, 1000, noKey)
	// Two random choices: both are busy with probability 1/4.
	if got["idle:1"] < 650 || got["busy:1"] > 350 {
		t.Fatalf("idle not preferred: %v", got)
	}
	for range held {
		cl.Report("busy:1", 200, LocalNone)
	}
	if a := cl.lb.hosts[cl.lb.idx["busy:1"]].active.Load(); a != 0 {
		t.Fatalf("active after reports = %d", a)
	}
}

func TestLeastRequestWeighted(t *testing.T) {
	cl := one(NewRegistry(nil), snapshot.Cluster{Name: "c", Endpoints: []string{"a:1", "b:1"}, EndpointWeights: []uint32{1, 4}, LB: &snapshot.LoadBalancer{Simple: "LEAST_REQUEST"}})
	got := counts(t, cl, 5000, noKey)
	if got["b:1"] < 3700 || got["b:1"] > 4300 {
		t.Fatalf("weights 1:4 not followed: %v", got)
	}
}

func headerKey(v string) *Key {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-User", v)
	return &Key{R: r}
}

func hashCluster(name string, eps []string, maglev bool) snapshot.Cluster {
	return snapshot.Cluster{Name: name, Endpoints: eps, LB: &snapshot.LoadBalancer{Hash: &snapshot.ConsistentHash{Header: "x-user", Maglev: maglev, TableSize: 65537}}}
}

func TestConsistentHashStickyAndStable(t *testing.T) {
	for _, maglev := range []bool{false, true} {
		t.Run(fmt.Sprintf("maglev=%v", maglev), func(t *testing.T) {
			eps := []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"}
			reg := NewRegistry(nil)
			cl := one(reg, hashCluster("h", eps, maglev))
			first := map[string]string{}
			per := map[string]int{}
			for i := range 2000 {
				u := fmt.Sprintf("user-%d", i)
				ep, _ := cl.Pick(headerKey(u))
				first[u] = ep
				per[ep]++
				for range 2 {
					if again, _ := cl.Pick(headerKey(u)); again != ep {
						t.Fatalf("%s went to %s then %s", u, ep, again)
					}
				}
			}
			for _, ep := range eps {
				if per[ep] < 300 || per[ep] > 700 { // 500 expected
					t.Fatalf("uneven spread %v", per)
				}
			}
			// Add an endpoint: only keys that move to it change.
			cl = one(reg, hashCluster("h", append(eps, "10.0.0.5:80"), maglev))
			moved, other := 0, 0
			for u, ep := range first {
				now, _ := cl.Pick(headerKey(u))
				switch {
				case now == "10.0.0.5:80":
					moved++
				case now != ep:
					other++
				}
			}
			// Envoy's ring gives each endpoint points in proportion to its share, so
			// adding one also moves the keys of the points the others lose (≈ 1/5);
			// Maglev moves almost nothing else.
			limit := 600
			if maglev {
				limit = 100
			}
			if moved < 250 || moved > 600 || other > limit { // ≈ 400 expected to move to it
				t.Fatalf("adding an endpoint: %d moved to it, %d moved between others", moved, other)
			}
			// Remove an unrelated endpoint: keys of the others stay.
			cl = one(reg, hashCluster("h", eps[1:], maglev))
			changed := 0
			for u, ep := range first {
				if now, _ := cl.Pick(headerKey(u)); ep != eps[0] && now != ep {
					changed++
				}
			}
			if changed > limit {
				t.Fatalf("removing an endpoint moved %d keys of other endpoints", changed)
			}
		})
	}
}

func TestConsistentHashWeightsAndNoKey(t *testing.T) {
	c := hashCluster("h", []string{"a:1", "b:1"}, false)
	c.EndpointWeights = []uint32{1, 3}
	cl := one(NewRegistry(nil), c)
	got := counts(t, cl, 4000, func(i int) *Key { return headerKey(fmt.Sprint(i)) })
	if got["b:1"] < 2700 || got["b:1"] > 3300 {
		t.Fatalf("weights 1:3 on the ring: %v", got)
	}
	// No hash key: a random endpoint each time (Envoy), so both are used.
	got = counts(t, cl, 400, func(int) *Key { return &Key{R: httptest.NewRequest("GET", "/", nil)} })
	if got["a:1"] == 0 || got["b:1"] == 0 {
		t.Fatalf("requests without a key all went to one endpoint: %v", got)
	}
}

func TestHashKeys(t *testing.T) {
	eps := []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80"}
	mk := func(ch *snapshot.ConsistentHash) *Cluster {
		return one(NewRegistry(nil), snapshot.Cluster{Name: "h", Endpoints: eps, LB: &snapshot.LoadBalancer{Hash: ch}})
	}
	spread := func(cl *Cluster, key func(i int) *Key) int {
		seen := map[string]bool{}
		for i := range 200 {
			ep, _ := cl.Pick(key(i))
			if again, _ := cl.Pick(key(i)); again != ep {
				t.Fatalf("key %d not sticky", i)
			}
			seen[ep] = true
		}
		return len(seen)
	}
	q := mk(&snapshot.ConsistentHash{QueryParameter: "u"})
	if n := spread(q, func(i int) *Key { return &Key{R: httptest.NewRequest("GET", fmt.Sprintf("/?u=%d", i), nil)} }); n < 4 {
		t.Fatalf("query keys reach %d endpoints", n)
	}
	src := mk(&snapshot.ConsistentHash{SourceIP: true})
	if n := spread(src, func(i int) *Key {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:%d", i, 40000+i)
		return &Key{R: r}
	}); n < 4 {
		t.Fatalf("source addresses reach %d endpoints", n)
	}
	// The port does not matter; with trusted hops X-Forwarded-For does.
	ep1, _ := src.Pick(&Key{Src: "192.0.2.7:1111"})
	ep2, _ := src.Pick(&Key{Src: "192.0.2.7:2222"})
	if ep1 != ep2 {
		t.Fatalf("same source IP, different endpoints: %s %s", ep1, ep2)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "192.0.2.7, 10.1.1.1")
	if ep3, _ := src.Pick(&Key{R: r, Hops: 2}); ep3 != ep1 {
		t.Fatalf("X-Forwarded-For with 2 trusted hops: %s, want %s", ep3, ep1)
	}
}

func TestGeneratedCookie(t *testing.T) {
	ck := &snapshot.HashCookie{Name: "session", Path: "/app", TTLSeconds: 3600, HasTTL: true, Attributes: []snapshot.CookieAttribute{{Name: "SameSite", Value: "Lax"}, {Name: "Secure"}}}
	cl := one(NewRegistry(nil), snapshot.Cluster{Name: "h", Endpoints: []string{"a:1", "b:1", "c:1"}, LB: &snapshot.LoadBalancer{Hash: &snapshot.ConsistentHash{Cookie: ck}}})
	r := httptest.NewRequest("GET", "/app", nil)
	k := &Key{R: r}
	ep, _ := cl.Pick(k)
	m := regexp.MustCompile(`^session="([0-9a-f]{16})"; Max-Age=3600; Path=/app; SameSite=Lax; Secure; HttpOnly$`).FindStringSubmatch(k.SetCookie)
	if m == nil {
		t.Fatalf("Set-Cookie %q", k.SetCookie)
	}
	// The client sends it back: same endpoint, nothing generated.
	for range 5 {
		r2 := httptest.NewRequest("GET", "/app", nil)
		r2.AddCookie(&http.Cookie{Name: "session", Value: m[1]})
		k2 := &Key{R: r2}
		if got, _ := cl.Pick(k2); got != ep || k2.SetCookie != "" {
			t.Fatalf("with the cookie: %s (set %q), want %s", got, k2.SetCookie, ep)
		}
	}
	// Without a ttl nothing is generated.
	ck.HasTTL = false
	k3 := &Key{R: httptest.NewRequest("GET", "/", nil)}
	cl.Pick(k3)
	if k3.SetCookie != "" {
		t.Fatalf("cookie generated without ttl: %q", k3.SetCookie)
	}
}

func outlierCluster(eps []string, od snapshot.OutlierDetection) snapshot.Cluster {
	return snapshot.Cluster{Name: "o", Endpoints: eps, Outlier: &od}
}

var od5xx = snapshot.OutlierDetection{Consecutive5xx: 3, IntervalMillis: 10000, BaseEjectionMillis: 30000, MaxEjectionMillis: 300000, MaxEjectionPercent: 100}

func TestOutlierEjectionTiming(t *testing.T) {
	clk, now := newClock()
	obs := &countingObs{}
	reg := NewRegistry(obs)
	reg.SetClock(now)
	cl := one(reg, outlierCluster([]string{"dead:1", "live:1"}, od5xx))
	fail := func(n int) {
		for range n {
			cl.Report("dead:1", 503, LocalNone)
		}
	}
	fail(2)
	cl.Report("dead:1", 200, LocalNone) // a success restarts the count
	fail(2)
	if obs.ejected.Load() != 0 {
		t.Fatal("ejected before 3 consecutive errors")
	}
	cl.Report("dead:1", 0, LocalConnectFailed) // a connect failure is a 503 without the split
	if obs.ejected.Load() != 1 {
		t.Fatalf("not ejected after 3 consecutive errors (%d)", obs.ejected.Load())
	}
	only := func(want string, n int) {
		t.Helper()
		got := counts(t, cl, n, noKey)
		if got[want] != n {
			t.Fatalf("at +%s: %v, want all on %s", clk.t.Sub(time.Unix(1_700_000_000, 0)), got, want)
		}
	}
	only("live:1", 10)
	// Ejected for baseEjectionTime (30s), returned at the first sweep after it: the
	// sweeps are every 10s from the detector's start, so at +30s.
	clk.add(29 * time.Second)
	only("live:1", 4)
	clk.add(time.Second)
	got := counts(t, cl, 4, noKey)
	if got["dead:1"] != 2 || obs.returned.Load() != 1 {
		t.Fatalf("not back after 30s: %v (returned %d)", got, obs.returned.Load())
	}
	// Ejected again right away: twice as long (60s).
	fail(3)
	clk.add(50 * time.Second)
	only("live:1", 4)
	clk.add(10 * time.Second)
	if got := counts(t, cl, 4, noKey); got["dead:1"] != 2 {
		t.Fatalf("not back after 60s: %v", got)
	}
	if h := cl.lb.hosts[0]; h.out.ejections != 2 || h.out.backoff != 2 {
		t.Fatalf("ejections %d backoff %d", h.out.ejections, h.out.backoff)
	}
	// Healthy for a long while: the back-off decays one step per interval.
	clk.add(10 * time.Minute)
	cl.Pick(nil)
	if h := cl.lb.hosts[0]; h.out.backoff != 0 {
		t.Fatalf("backoff %d after 10 healthy minutes", h.out.backoff)
	}
}

func TestOutlierMaxEjectionPercentAndPanic(t *testing.T) {
	_, now := newClock()
	reg := NewRegistry(nil)
	reg.SetClock(now)
	od := od5xx
	od.MaxEjectionPercent = 10 // Envoy's default: 1 of 2 is 50% > 10%
	cl := one(reg, outlierCluster([]string{"a:1", "b:1"}, od))
	for range 9 {
		cl.Report("a:1", 500, LocalNone)
	}
	if cl.lb.st.ejected.Load() != 0 {
		t.Fatal("ejected beyond maxEjectionPercent")
	}
	// minHealthPercent: one of two ejected is 50% healthy, below 60 => panic, both used.
	od.MaxEjectionPercent, od.MinHealthPercent = 100, 60
	cl = one(reg, outlierCluster([]string{"a:1", "b:1"}, od))
	for range 3 {
		cl.Report("a:1", 500, LocalNone)
	}
	if cl.lb.st.ejected.Load() != 1 {
		t.Fatal("not ejected")
	}
	if got := counts(t, cl, 10, noKey); got["a:1"] == 0 {
		t.Fatalf("panic mode should use the ejected endpoint: %v", got)
	}
	// minHealthPercent 0: both ejected => nothing to pick (503).
	od.MinHealthPercent = 0
	cl = one(reg, outlierCluster([]string{"a:1", "b:1"}, od))
	for range 3 {
		cl.Report("b:1", 500, LocalNone)
	}
	if _, ok := cl.Pick(nil); ok {
		t.Fatal("picked with every endpoint ejected")
	}
}

func TestOutlierGatewayAndLocalOrigin(t *testing.T) {
	_, now := newClock()
	reg := NewRegistry(nil)
	reg.SetClock(now)
	od := od5xx
	od.Consecutive5xx, od.ConsecutiveGateway = 0, 2
	cl := one(reg, outlierCluster([]string{"a:1", "b:1"}, od))
	cl.Report("a:1", 502, LocalNone)
	cl.Report("a:1", 500, LocalNone) // not a gateway error: restarts the gateway count
	cl.Report("a:1", 504, LocalNone)
	if cl.lb.st.ejected.Load() != 0 {
		t.Fatal("500 counted as a gateway error")
	}
	cl.Report("a:1", 0, LocalTimeout) // a timeout is a 504
	if cl.lb.st.ejected.Load() != 1 {
		t.Fatal("two gateway errors did not eject")
	}
	// Split: local-origin failures count apart; 5xx responses do not feed them.
	od = od5xx
	od.Consecutive5xx, od.SplitLocalOrigin, od.ConsecutiveLocalOrigin = 0, true, 2
	cl = one(NewRegistry(nil), outlierCluster([]string{"a:1", "b:1"}, od))
	cl.Report("a:1", 0, LocalConnectFailed)
	cl.Report("a:1", 503, LocalNone) // a response: connected, the local run is over
	cl.Report("a:1", 0, LocalConnectFailed)
	if cl.lb.st.ejected.Load() != 0 {
		t.Fatal("local-origin count not reset by a response")
	}
	cl.Report("a:1", 0, LocalConnectFailed)
	if cl.lb.st.ejected.Load() != 1 {
		t.Fatal("two local-origin failures did not eject")
	}
}

func TestOutlierStateSurvivesSnapshots(t *testing.T) {
	_, now := newClock()
	obs := &countingObs{}
	reg := NewRegistry(obs)
	reg.SetClock(now)
	cl := one(reg, outlierCluster([]string{"a:1", "b:1", "c:1"}, od5xx))
	for range 3 {
		cl.Report("a:1", 503, LocalNone)
	}
	// A new snapshot with the same cluster (another endpoint added): still ejected.
	cl2 := one(reg, outlierCluster([]string{"a:1", "b:1", "c:1", "d:1"}, od5xx))
	if got := counts(t, cl2, 30, noKey); got["a:1"] != 0 {
		t.Fatalf("ejection lost across snapshots: %v", got)
	}
	if hs := reg.Health(); len(hs) != 1 || len(hs[0].Ejected) != 1 || hs[0].Ejected[0].Endpoint != "a:1" || hs[0].Total != 4 {
		t.Fatalf("health %+v", hs)
	}
	if n := reg.Ejected()["o"]; n != 1 {
		t.Fatalf("Ejected()[o] = %d", n)
	}
	// The endpoint removed while ejected: the gauge comes back down.
	one(reg, outlierCluster([]string{"b:1", "c:1"}, od5xx))
	if obs.returned.Load() != 1 || len(reg.Health()) != 0 {
		t.Fatalf("returned %d, health %+v", obs.returned.Load(), reg.Health())
	}
	if n, ok := reg.Ejected()["o"]; !ok || n != 0 {
		t.Fatalf("Ejected()[o] = %d, %v; want 0 reported", n, ok)
	}
}

func TestWarmupRampsNewEndpoints(t *testing.T) {
	clk, now := newClock()
	reg := NewRegistry(nil)
	reg.SetClock(now)
	lb := &snapshot.LoadBalancer{Warmup: &snapshot.Warmup{WindowMillis: 100000, Aggression: 1, MinPercent: 10}}
	c := snapshot.Cluster{Name: "w", Endpoints: []string{"old:1"}, LB: lb}
	one(reg, c)
	c.Endpoints = []string{"new:1", "old:1"}
	cl := one(reg, c)
	// At 10s of a 100s window the new endpoint has weight 0.1: 1 of 11 picks.
	clk.add(10 * time.Second)
	got := counts(t, cl, 1100, noKey)
	if got["new:1"] < 90 || got["new:1"] > 110 {
		t.Fatalf("at 10%% of the window: %v", got)
	}
	// At 50s: 0.5, one pick in three.
	clk.add(40 * time.Second)
	got = counts(t, cl, 1500, noKey)
	if got["new:1"] < 480 || got["new:1"] > 520 {
		t.Fatalf("at half the window: %v", got)
	}
	clk.add(60 * time.Second)
	got = counts(t, cl, 1000, noKey)
	if got["new:1"] != 500 {
		t.Fatalf("after the window: %v", got)
	}
}

func BenchmarkPickNoPolicy(b *testing.B) {
	cl := NewClusters([]snapshot.Cluster{{Name: "c", Endpoints: []string{"a:1", "b:1", "c:1"}}}).Get("c")
	k := &Key{}
	b.ReportAllocs()
	for b.Loop() {
		ep, _ := cl.Pick(k)
		cl.Report(ep, 200, LocalNone)
	}
}

func BenchmarkPickHeaderHash(b *testing.B) {
	cl := one(NewRegistry(nil), hashCluster("h", []string{"a:1", "b:1", "c:1"}, false))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-User", "alice")
	b.ReportAllocs()
	for b.Loop() {
		k := Key{R: r}
		ep, _ := cl.Pick(&k)
		cl.Report(ep, 200, LocalNone)
	}
}

func TestPickOtherMovesAlongTheRing(t *testing.T) {
	for _, maglev := range []bool{false, true} {
		cl := one(NewRegistry(nil), hashCluster("h", []string{"a:1", "b:1", "c:1"}, maglev))
		k := headerKey("alice")
		first, _ := cl.Pick(k)
		other, _ := cl.PickOther(k, []string{first})
		if other == first {
			t.Fatalf("maglev=%v: a retry avoiding %s got it again", maglev, first)
		}
		if again, _ := cl.Pick(k); again != first {
			t.Fatalf("maglev=%v: after PickOther the key maps to %s, want %s", maglev, again, first)
		}
	}
}

// TestConcurrentPicksReportsAndSwaps is for the race detector: requests pick and report
// on old and new snapshots of clusters with every policy while snapshots swap.
func TestConcurrentPicksReportsAndSwaps(t *testing.T) {
	reg := NewRegistry(&countingObs{})
	od := od5xx
	od.IntervalMillis, od.BaseEjectionMillis = 1, 1
	specs := func(n int) []snapshot.Cluster {
		eps := []string{"a:1", "b:1", "c:1", "d:1"}[:2+n%3]
		return []snapshot.Cluster{
			{Name: "rr", Endpoints: eps, EndpointWeights: []uint32{1, 2, 3, 4}[:len(eps)], Outlier: &od, LB: &snapshot.LoadBalancer{Warmup: &snapshot.Warmup{WindowMillis: 5, Aggression: 1, MinPercent: 10}}},
			{Name: "lr", Endpoints: eps, Outlier: &od, LB: &snapshot.LoadBalancer{Simple: "LEAST_REQUEST"}},
			{Name: "ring", Endpoints: eps, Outlier: &od, LB: &snapshot.LoadBalancer{Hash: &snapshot.ConsistentHash{Header: "x-user"}}},
			{Name: "maglev", Endpoints: eps, Outlier: &od, LB: &snapshot.LoadBalancer{Hash: &snapshot.ConsistentHash{SourceIP: true, Maglev: true, TableSize: 1009}}},
		}
	}
	var cur atomic.Pointer[Clusters]
	cur.Store(reg.Clusters(specs(0)))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				cs := cur.Load()
				for _, name := range []string{"rr", "lr", "ring", "maglev"} {
					cl := cs.Get(name)
					k := headerKey(fmt.Sprint(i % 7))
					k.Src = fmt.Sprintf("10.0.0.%d:1", w)
					if ep, ok := cl.PickOther(k, []string{"a:1"}); ok {
						cl.Report(ep, []int{200, 503, 0}[i%3], LocalResult(i%4))
					}
				}
			}
		})
	}
	for n := range 200 {
		cur.Store(reg.Clusters(specs(n)))
		_ = reg.Health()
	}
	close(done)
	wg.Wait()
}
