package metrics

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// The connection gauges are read from the counter at each scrape.
func TestConnectionGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	open := 3
	m.WatchConnections(func(emit func(port uint32, open, parked int)) {
		emit(443, open, 2)
		emit(8080, 1, 0)
	})
	scrape := func() map[string]float64 {
		got := map[string]float64{}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case "portcullis_client_connections", "portcullis_client_connections_parked":
				for _, mt := range mf.GetMetric() {
					got[mf.GetName()+"/"+mt.GetLabel()[0].GetValue()] = mt.GetGauge().GetValue()
				}
			}
		}
		return got
	}
	want := map[string]float64{
		"portcullis_client_connections/443": 3, "portcullis_client_connections_parked/443": 2,
		"portcullis_client_connections/8080": 1, "portcullis_client_connections_parked/8080": 0,
	}
	if diff := cmp.Diff(want, scrape()); diff != "" {
		t.Fatal(diff)
	}
	open = 7
	want["portcullis_client_connections/443"] = 7
	if diff := cmp.Diff(want, scrape()); diff != "" {
		t.Fatalf("second scrape: %s", diff)
	}
}
