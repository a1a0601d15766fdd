package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/accesslog"
)

// BenchmarkIstioLog is Istio.Log of one request whose series exists (the steady state).
func BenchmarkIstioLog(b *testing.B) {
	i := NewIstio(prometheus.NewRegistry(), Workload{})
	e := &accesslog.Entry{Code: 200, Flags: "-", Duration: 3 * time.Millisecond, BytesSent: 120,
		UpstreamService: "frontend.shop.svc.cluster.local"}
	i.Log(e)
	b.ReportAllocs()
	for b.Loop() {
		i.Log(e)
	}
}
