package router

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestPickCluster(t *testing.T) {
	wc := func(ws ...uint32) *snapshot.Forward {
		f := &snapshot.Forward{}
		for i, w := range ws {
			f.Clusters = append(f.Clusters, snapshot.WeightedCluster{Cluster: string(rune('a' + i)), Weight: w})
		}
		return f
	}
	cases := []struct {
		name string
		f    *snapshot.Forward
		n    uint32
		want string
	}{
		{"nil forward", nil, 0, ""},
		{"no clusters", wc(), 0, ""},
		{"single", wc(100), 99, "a"},
		{"80/20 low edge", wc(80, 20), 0, "a"},
		{"80/20 last of first", wc(80, 20), 79, "a"},
		{"80/20 first of second", wc(80, 20), 80, "b"},
		{"80/20 top", wc(80, 20), 99, "b"},
		{"n wraps modulo 100", wc(80, 20), 180, "b"},
		{"three-way middle", wc(33, 33, 34), 33, "b"},
		{"three-way last", wc(33, 33, 34), 66, "c"},
		{"zero weight skipped", wc(0, 100), 0, "b"},
		{"zero weight in middle", wc(50, 0, 50), 50, "c"},
		{"all zero picks first", wc(0, 0), 50, "a"},
		{"scaled sum 10 (1/9)", wc(1, 9), 9, "a"},
		{"scaled sum 10 boundary", wc(1, 9), 10, "b"},
		{"scaled sum 200", wc(100, 100), 49, "a"},
		{"scaled sum 200 boundary", wc(100, 100), 50, "b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PickCluster(tc.f, tc.n)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPickClusterDistribution(t *testing.T) {
	f := &snapshot.Forward{Clusters: []snapshot.WeightedCluster{{Cluster: "a", Weight: 10}, {Cluster: "b", Weight: 25}, {Cluster: "c", Weight: 65}}}
	got := map[string]int{}
	for n := uint32(0); n < 100; n++ {
		got[PickCluster(f, n)]++
	}
	if diff := cmp.Diff(map[string]int{"a": 10, "b": 25, "c": 65}, got); diff != "" {
		t.Errorf("picks over n=0..99 (-want +got):\n%s", diff)
	}
}
