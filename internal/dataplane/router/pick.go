package router

import (
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// PickCluster chooses among f's weighted clusters given n in [0,100): clusters own
// consecutive ranges of n in order, as wide as their weights (weights 80/20: n 0..79 →
// first, 80..99 → second). n ≥ 100 is taken modulo 100. Weights that do not sum to
// 100 are scaled to their sum; zero-weight clusters are never picked unless every weight is
// zero, in which case the first cluster is. Returns "" when f has no clusters.
//
// The dataplane picks with Result.Pick (per-route state); PickCluster is the stateless rule.
func PickCluster(f *snapshot.Forward, n uint32) string {
	if f == nil || len(f.Clusters) == 0 {
		return ""
	}
	if i := pickIndex(f.Clusters, n); i >= 0 {
		return f.Clusters[i].Cluster
	}
	return ""
}

func pickIndex(cs []snapshot.WeightedCluster, n uint32) int {
	if len(cs) == 1 {
		return 0
	}
	n %= 100
	var total uint64
	for _, c := range cs {
		total += uint64(c.Weight)
	}
	if total == 0 {
		return 0
	}
	x := uint64(n)
	if total != 100 {
		x = x * total / 100
	}
	var acc uint64
	for i, c := range cs {
		acc += uint64(c.Weight)
		if x < acc {
			return i
		}
	}
	return len(cs) - 1
}

// maxCycle bounds a picker's schedule; weights summing to more are scaled down to it.
const maxCycle = 1000

// picker is one route's weighted choice: a precomputed cycle in which every cluster appears
// exactly as often as its weight, spread evenly by smooth weighted round robin (the nginx
// algorithm), and a per-route counter walking it. So each route holds its split exactly
// over every cycle (99/1: one request in each 100; 50/50: alternating), whatever other
// routes see, with one atomic add and no allocation per request.
type picker struct {
	n     atomic.Uint64
	cycle []uint16 // cluster indexes
}

func newPicker(cs []snapshot.WeightedCluster) *picker {
	if len(cs) < 2 {
		return nil
	}
	w := make([]int64, len(cs))
	var total int64
	for i, c := range cs {
		w[i] = int64(c.Weight)
		total += w[i]
	}
	if total == 0 {
		return nil // pickIndex: the first cluster
	}
	if total > maxCycle {
		var scaled int64
		for i := range w {
			w[i] = w[i] * maxCycle / total
			scaled += w[i]
		}
		if scaled == 0 {
			return nil
		}
		total = scaled
	}
	cur := make([]int64, len(cs))
	p := &picker{cycle: make([]uint16, total)}
	for k := range p.cycle {
		best := -1
		for i := range w {
			if w[i] == 0 {
				continue
			}
			cur[i] += w[i]
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		p.cycle[k] = uint16(best)
	}
	return p
}

// Pick returns the cluster the matched route forwards this request to: its next place in
// the route's own weighted cycle. Nil when the result has no Forward route.
func (res Result) Pick() *snapshot.WeightedCluster {
	if res.Route == nil || res.Route.Forward == nil || len(res.Route.Forward.Clusters) == 0 {
		return nil
	}
	cs := res.Route.Forward.Clusters
	if res.cr == nil || res.cr.picker == nil {
		return &cs[pickIndex(cs, 0)]
	}
	p := res.cr.picker
	return &cs[p.cycle[(p.n.Add(1)-1)%uint64(len(p.cycle))]]
}
