package metrics

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestHostObserver(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	front := m.VirtualHost("frontend")
	_ = m.VirtualHost("idle") // resolved but never used: exports nothing
	if m.VirtualHost("frontend") != front {
		t.Fatal("VirtualHost is not shared")
	}
	for _, code := range []int{200, 200, 404, 200, 503} {
		front.Observe(code, time.Millisecond)
	}
	m.Request("frontend", 200, time.Millisecond) // the old entry point feeds the same series
	m.VirtualHost("").Observe(421, time.Millisecond)

	got := map[string]float64{}
	series := 0
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "portcullis_requests_total":
			for _, mt := range mf.GetMetric() {
				var labels []string
				for _, lp := range mt.GetLabel() {
					labels = append(labels, lp.GetName()+"="+lp.GetValue())
				}
				got[strings.Join(labels, ",")] = mt.GetCounter().GetValue()
			}
		case "portcullis_request_duration_seconds":
			series = len(mf.GetMetric())
		}
	}
	want := map[string]float64{"code=200,host=frontend": 4, "code=404,host=frontend": 1,
		"code=503,host=frontend": 1, "code=421,host=none": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if series != 2 {
		t.Fatalf("%d duration series, want 2 (frontend, none)", series)
	}
}

// BenchmarkObserve compares the per-request cost of recording a request by label values
// (WithLabelValues per request) and through the pre-resolved HostObserver.
func BenchmarkObserve(b *testing.B) {
	m := New(prometheus.NewRegistry())
	code := 200
	b.Run("WithLabelValues", func(b *testing.B) { // what Request did per request before
		b.ReportAllocs()
		for b.Loop() {
			m.requests.WithLabelValues("frontend", strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues("frontend").Observe(0.001)
		}
	})
	h := m.VirtualHost("frontend")
	b.Run("HostObserver", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.Observe(code, time.Millisecond)
		}
	})
}
