package router

import "github.com/portcullis/portcullis/internal/snapshot"

// PickCluster chooses among f's weighted clusters given n in [0,100): clusters own
// consecutive ranges of n in order, as wide as their weights (weights 80/20: n 0..79 →
// first, 80..99 → second). The caller supplies n from a cheap RNG or counter, which keeps
// this deterministic and testable. n ≥ 100 is taken modulo 100. Weights that do not sum to
// 100 are scaled to their sum; zero-weight clusters are never picked unless every weight is
// zero, in which case the first cluster is. Returns "" when f has no clusters.
func PickCluster(f *snapshot.Forward, n uint32) string {
	if f == nil || len(f.Clusters) == 0 {
		return ""
	}
	if len(f.Clusters) == 1 {
		return f.Clusters[0].Cluster
	}
	n %= 100
	var total uint64
	for _, c := range f.Clusters {
		total += uint64(c.Weight)
	}
	if total == 0 {
		return f.Clusters[0].Cluster
	}
	x := uint64(n)
	if total != 100 {
		x = x * total / 100
	}
	var acc uint64
	for _, c := range f.Clusters {
		acc += uint64(c.Weight)
		if x < acc {
			return c.Cluster
		}
	}
	return f.Clusters[len(f.Clusters)-1].Cluster
}
