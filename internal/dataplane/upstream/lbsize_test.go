package upstream

import (
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestHashTableSizes: ringHash.minimumRingSize and maglev.tableSize shape the tables as
// Envoy builds them — a ring of at least minimumRingSize points (the lightest endpoint
// gets its share), split by weight; a Maglev table of exactly tableSize entries, split by
// weight; the defaults (1024, 65537) when unset.
func TestHashTableSizes(t *testing.T) {
	eps := []string{"a:1", "b:1", "c:1"}
	table := func(h *snapshot.ConsistentHash, weights []uint32) *hashTable {
		t.Helper()
		cl := one(NewRegistry(nil), snapshot.Cluster{Name: "h", Endpoints: eps, EndpointWeights: weights, LB: &snapshot.LoadBalancer{Hash: h}})
		if _, ok := cl.Pick(headerKey("u")); !ok {
			t.Fatal("no pick")
		}
		return cl.lb.table.Load()
	}
	share := func(n int, hostOf func(i int) int) []int {
		s := make([]int, len(eps))
		for i := range n {
			s[hostOf(i)]++
		}
		return s
	}
	for _, tc := range []struct {
		size    uint64
		weights []uint32
		want    int // ceil(size × lightest share) / lightest share
	}{{0, nil, 1026}, {4096, nil, 4098}, {5000, []uint32{1, 2, 5}, 5000}} {
		tb := table(&snapshot.ConsistentHash{Header: "x-user", RingSize: tc.size}, tc.weights)
		n := len(tb.ring)
		// Envoy scales the ring so that the lightest endpoint gets at least its share of
		// minimumRingSize points, rounded up.
		if n != tc.want {
			t.Fatalf("ringHash %d weights %v: %d points, want %d", tc.size, tc.weights, n, tc.want)
		}
		s := share(n, func(i int) int { return tb.ring[i].host })
		w := tc.weights
		if w == nil {
			w = []uint32{1, 1, 1}
		}
		for i := range eps {
			if s[i]*int(w[0]) < s[0]*int(w[i])-int(w[i]) || s[i]*int(w[0]) > s[0]*int(w[i])+int(w[i]) {
				t.Fatalf("ringHash %d weights %v: points per endpoint %v", tc.size, w, s)
			}
		}
	}
	for _, tc := range []struct {
		size    uint64
		weights []uint32
		want    int
	}{{0, nil, 65537}, {251, nil, 251}, {1009, []uint32{1, 3, 6}, 1009}} {
		tb := table(&snapshot.ConsistentHash{Header: "x-user", Maglev: true, TableSize: tc.size}, tc.weights)
		if len(tb.maglev) != tc.want {
			t.Fatalf("maglev %d: %d entries, want %d", tc.size, len(tb.maglev), tc.want)
		}
		s := share(len(tb.maglev), func(i int) int { return int(tb.maglev[i]) })
		w := tc.weights
		if w == nil {
			w = []uint32{1, 1, 1}
		}
		sum := int(w[0] + w[1] + w[2])
		for i := range eps {
			exact := tc.want * int(w[i]) / sum
			if d := s[i] - exact; d < -len(eps) || d > len(eps) {
				t.Fatalf("maglev %d weights %v: entries per endpoint %v", tc.size, w, s)
			}
		}
	}
}
