package upstream

import (
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Load balancing as Envoy does it for Istio's loadBalancer settings (design 0021):
// weighted round robin (smooth, as the route-level picker), LEAST_REQUEST (power of two
// choices, or weights divided by active requests when endpoints are weighted), RANDOM, and
// consistent hashing over a ring or a Maglev table (lbhash.go). Endpoints ejected by
// outlier detection (outlier.go) are skipped by every picker; slow start (warmup) scales
// the weight of endpoints added recently.

// Key is what a picker may hash for a request: the request (nil for an L4 stream) or the
// downstream address, and what the pick produced. The zero Key hashes nothing.
type Key struct {
	R *http.Request
	// Src is the downstream peer address ("ip:port") when R is nil.
	Src string
	// Hops is --num-trusted-proxies: useSourceIp hashes the address X-Forwarded-For gives
	// at that many hops from the right (Envoy's remote address), else the peer's.
	Hops int
	// SetCookie is a generated httpCookie (a Set-Cookie value) the response must carry;
	// set by Pick, kept across the picks of one request.
	SetCookie string

	hash    uint64
	hashed  bool // hash (or its absence, has false) was computed
	has     bool
	attempt uint32 // host-selection attempt of PickOther (hash policies move on)
}

// Registry keeps the runtime state of clusters across snapshots: per endpoint the time it
// was added (slow start), its active requests and its outlier-detection record, for as
// long as successive snapshots keep the cluster and the endpoint. One per dataplane.
type Registry struct {
	mu       sync.Mutex
	clusters map[string]*clusterState
	now      func() time.Time
	obs      OutlierObserver
}

// OutlierObserver receives ejections (the metrics package implements it): Ejected when an
// endpoint of cluster is ejected, Returned when it is back or gone while ejected.
type OutlierObserver interface {
	Ejected(cluster string)
	Returned(cluster string)
}

// NewRegistry returns an empty registry; obs may be nil.
func NewRegistry(obs OutlierObserver) *Registry {
	return &Registry{clusters: map[string]*clusterState{}, now: time.Now, obs: obs}
}

// SetClock replaces the registry's clock (tests).
func (reg *Registry) SetClock(now func() time.Time) { reg.now = now }

// clusterState is the part of a cluster's runtime that outlives snapshots.
type clusterState struct {
	name string
	reg  *Registry
	mu   sync.Mutex // guards hosts, cur and the outlier records of its hosts
	// hosts by endpoint: every endpoint of the latest snapshot's cluster.
	hosts map[string]*hostState
	cur   []*hostState // the latest snapshot's endpoints, in order
	od    *snapshot.OutlierDetection
	// nextSweep: the next outlier-detection interval tick (UnixNano); 0 before the first.
	nextSweep atomic.Int64
	ejected   atomic.Int32  // endpoints of cur ejected now
	health    atomic.Uint64 // bumped on every ejection and return (hash tables rebuild)
}

// hostState is one endpoint's runtime.
type hostState struct {
	addr  string
	added time.Time // zero: present since the cluster first appeared (no slow start)
	// active requests (LEAST_REQUEST), counted when LEAST_REQUEST picks.
	active  atomic.Int64
	ejected atomic.Bool
	out     outlierRecord // guarded by clusterState.mu
}

// Clusters builds the runtime of a snapshot's clusters, carrying over the state of every
// cluster and endpoint the previous snapshot also had. State of clusters the snapshot no
// longer has is dropped.
func (reg *Registry) Clusters(cs []snapshot.Cluster) *Clusters {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	m := make(map[string]*Cluster, len(cs))
	seen := make(map[string]bool, len(cs))
	for i := range cs {
		c := &cs[i]
		cl := &Cluster{Name: c.Name, Spec: c, endpoints: c.Endpoints}
		m[c.Name] = cl
		if !needsBalancer(c) {
			continue
		}
		seen[c.Name] = true
		st := reg.clusters[c.Name]
		if st == nil {
			st = &clusterState{name: c.Name, reg: reg, hosts: map[string]*hostState{}}
			reg.clusters[c.Name] = st
		}
		cl.lb = st.update(c)
	}
	for name, st := range reg.clusters {
		if !seen[name] {
			st.update(&snapshot.Cluster{Name: name})
			delete(reg.clusters, name)
		}
	}
	return &Clusters{byName: m}
}

// needsBalancer reports whether c needs more than equal round robin.
func needsBalancer(c *snapshot.Cluster) bool {
	if c.Outlier != nil || (c.LB != nil && (c.LB.Simple != "" && c.LB.Simple != "ROUND_ROBIN" || c.LB.Hash != nil || c.LB.Warmup != nil)) {
		return len(c.Endpoints) > 0
	}
	for _, w := range c.EndpointWeights {
		if w != c.EndpointWeights[0] {
			return len(c.Endpoints) > 0
		}
	}
	return false
}

// update makes c the cluster's latest spec and returns its balancer. Endpoints new to the
// cluster are added now (slow start); the first snapshot's are not in slow start.
func (st *clusterState) update(c *snapshot.Cluster) *balancer {
	now := st.reg.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	first := len(st.hosts) == 0 && st.cur == nil
	b := &balancer{st: st, hosts: make([]*hostState, len(c.Endpoints)), idx: make(map[string]int, len(c.Endpoints))}
	next := make(map[string]*hostState, len(c.Endpoints))
	for i, ep := range c.Endpoints {
		h := st.hosts[ep]
		if h == nil {
			h = &hostState{addr: ep}
			if !first {
				h.added = now
			}
		}
		next[ep] = h
		b.hosts[i] = h
		b.idx[ep] = i
	}
	for ep, h := range st.hosts {
		if next[ep] == nil && h.ejected.Load() {
			st.ejected.Add(-1)
			st.health.Add(1)
			if st.reg.obs != nil {
				st.reg.obs.Returned(st.name)
			}
		}
	}
	st.hosts, st.cur = next, b.hosts
	if st.cur == nil {
		st.cur = []*hostState{}
	}
	if c.Outlier == nil && st.od != nil {
		// Outlier detection turned off: every ejected endpoint returns.
		for _, h := range st.cur {
			if h.ejected.Load() {
				st.uneject(h, now)
			}
		}
	}
	st.od = c.Outlier
	if c.Outlier != nil && c.Outlier.IntervalMillis > 0 && st.nextSweep.Load() == 0 {
		st.nextSweep.Store(now.Add(time.Duration(c.Outlier.IntervalMillis) * time.Millisecond).UnixNano())
	}
	if len(c.EndpointWeights) == len(c.Endpoints) {
		b.weights = c.EndpointWeights
	}
	b.od = c.Outlier
	if c.LB != nil {
		b.warm = c.LB.Warmup
		b.hash = c.LB.Hash
		switch c.LB.Simple {
		case "LEAST_REQUEST":
			b.kind = lbLeastRequest
		case "RANDOM":
			b.kind = lbRandom
		}
		if b.hash != nil {
			b.kind = lbHash
		}
	}
	if b.kind == lbRandom || b.kind == lbHash {
		b.warm = nil // Envoy's slow start applies to ROUND_ROBIN and LEAST_REQUEST only
	}
	b.equal = true
	for _, w := range b.weights {
		if w != b.weights[0] {
			b.equal = false
		}
	}
	b.cur = make([]int64, len(c.Endpoints))
	return b
}

type lbKind uint8

const (
	lbRoundRobin lbKind = iota
	lbLeastRequest
	lbRandom
	lbHash
)

// balancer is one snapshot's picker of a cluster with a policy.
type balancer struct {
	st      *clusterState
	hosts   []*hostState // parallel to the cluster's endpoints
	idx     map[string]int
	weights []uint32 // parallel; nil = equal
	equal   bool     // all weights equal (or none)
	kind    lbKind
	hash    *snapshot.ConsistentHash
	warm    *snapshot.Warmup
	od      *snapshot.OutlierDetection

	mu  sync.Mutex // smooth weighted round robin state
	cur []int64

	table atomic.Pointer[hashTable] // lbhash.go; rebuilt when health changes
}

func (b *balancer) weight(i int) uint32 {
	if b.weights == nil || b.weights[i] == 0 {
		return 1
	}
	return b.weights[i]
}

// usable returns whether host i may be picked, given the panic state: in panic (too few
// healthy endpoints) every endpoint is.
func (b *balancer) usable(i int, panic bool) bool { return panic || !b.hosts[i].ejected.Load() }

// panicking reports Envoy's panic mode: fewer healthy endpoints than minHealthPercent.
// With no endpoint healthy and minHealthPercent 0 nothing is picked (503).
func (b *balancer) panicking() bool {
	if b.od == nil {
		return false
	}
	ej := int(b.st.ejected.Load())
	if ej == 0 {
		return false
	}
	n := len(b.hosts)
	return b.od.MinHealthPercent > 0 && float64(n-ej)*100 < float64(b.od.MinHealthPercent)*float64(n)
}

func (b *balancer) pick(c *Cluster, k *Key) (string, bool) {
	if b.od != nil {
		b.st.sweep(b.st.reg.now())
	}
	panic := b.panicking()
	i := -1
	switch b.kind {
	case lbHash:
		i = b.pickHash(k, panic)
	case lbRandom:
		i = b.pickRandom(panic)
	case lbLeastRequest:
		i = b.pickLeastRequest(panic)
	default:
		i = b.pickRoundRobin(c, panic)
	}
	if i < 0 {
		return "", false
	}
	if b.kind == lbLeastRequest {
		b.hosts[i].active.Add(1)
	}
	return c.endpoints[i], true
}

// warmFactor is Envoy's slow-start scale of host h's weight at now (1 outside the window).
func (b *balancer) warmFactor(h *hostState, now time.Time) float64 {
	if b.warm == nil || h.added.IsZero() {
		return 1
	}
	win := float64(b.warm.WindowMillis) / 1000
	age := now.Sub(h.added).Seconds()
	if age >= win || win <= 0 {
		return 1
	}
	f := math.Max(age, 1) / win
	if b.warm.Aggression != 1 && b.warm.Aggression > 0 {
		f = math.Pow(f, 1/b.warm.Aggression)
	}
	return math.Max(b.warm.MinPercent/100, math.Min(f, 1))
}

// pickRoundRobin: equal weights without slow start take the next usable endpoint after
// the cursor; otherwise smooth weighted round robin (nginx's), as router/pick.go.
func (b *balancer) pickRoundRobin(c *Cluster, panic bool) int {
	n := len(b.hosts)
	if b.equal && b.warm == nil {
		for range n {
			i := int((c.next.Add(1) - 1) % uint64(n))
			if b.usable(i, panic) {
				return i
			}
		}
		return -1
	}
	var now time.Time
	if b.warm != nil {
		now = b.st.reg.now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	best, total := -1, int64(0)
	for i := range n {
		if !b.usable(i, panic) {
			continue
		}
		w := int64(b.weight(i)) * 1000
		if b.warm != nil {
			w = int64(float64(w) * b.warmFactor(b.hosts[i], now))
		}
		w = max(w, 1)
		b.cur[i] += w
		total += w
		if best < 0 || b.cur[i] > b.cur[best] {
			best = i
		}
	}
	if best >= 0 {
		b.cur[best] -= total
	}
	return best
}

// pickRandom picks a usable endpoint uniformly (Envoy's RANDOM ignores weights).
func (b *balancer) pickRandom(panic bool) int {
	n := len(b.hosts)
	start := rand.IntN(n)
	for j := range n {
		if i := (start + j) % n; b.usable(i, panic) {
			return i
		}
	}
	return -1
}

// pickLeastRequest is Envoy's LEAST_REQUEST: with equal weights (and no slow start) the
// better of two random usable endpoints by active requests; otherwise a weighted random
// pick with each weight divided by (active+1) (active_request_bias 1).
func (b *balancer) pickLeastRequest(panic bool) int {
	n := len(b.hosts)
	if b.equal && b.warm == nil {
		first := -1
		for range 2 {
			i := b.pickRandom(panic)
			if i < 0 {
				return -1
			}
			if first < 0 || b.hosts[i].active.Load() < b.hosts[first].active.Load() {
				first = i
			}
		}
		return first
	}
	var now time.Time
	if b.warm != nil {
		now = b.st.reg.now()
	}
	var ws [16]float64
	eff := ws[:0]
	if n > len(ws) {
		eff = make([]float64, 0, n)
	}
	total := 0.0
	for i := range n {
		w := 0.0
		if b.usable(i, panic) {
			w = float64(b.weight(i)) * b.warmFactor(b.hosts[i], now) / float64(b.hosts[i].active.Load()+1)
		}
		eff = append(eff, w)
		total += w
	}
	if total <= 0 {
		return -1
	}
	x := rand.Float64() * total
	last := -1
	for i, w := range eff {
		if w <= 0 {
			continue
		}
		last = i
		if x < w {
			return i
		}
		x -= w
	}
	return last
}

// Report ends the attempt on endpoint that Pick returned: code is the upstream response's
// status (0: none), local a locally originated result (connect failure, reset, timeout,
// or an L4 connection made). With neither the attempt only ends (client gone, overflow,
// a mirror).
func (c *Cluster) Report(endpoint string, code int, local LocalResult) {
	if c == nil || c.lb == nil {
		return
	}
	b := c.lb
	i, ok := b.idx[endpoint]
	if !ok {
		return
	}
	h := b.hosts[i]
	if b.kind == lbLeastRequest {
		h.active.Add(-1)
	}
	if b.od == nil || (code == 0 && local == LocalNone) {
		return
	}
	b.st.report(h, b.od, code, local)
}
