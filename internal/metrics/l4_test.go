package metrics

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestStreamCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	c := m.ForStream("ns/vs/tls/0", "outbound|443||db")
	c.Opened()
	c.Received(100)
	c.Sent(7)
	c.Received(1)
	c.Closed()
	m.ForStream("ns/vs/tls/0", "outbound|443||db").Opened() // same series
	m.StreamRefused("max_connections")

	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "portcullis_tcp_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var labels []string
			for _, lp := range mt.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			got[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = mt.GetCounter().GetValue()
		}
	}
	const l = "{destination=outbound|443||db,route=ns/vs/tls/0}"
	want := map[string]float64{
		"portcullis_tcp_connections_opened_total" + l:                      2,
		"portcullis_tcp_connections_closed_total" + l:                      1,
		"portcullis_tcp_received_bytes_total" + l:                          101,
		"portcullis_tcp_sent_bytes_total" + l:                              7,
		"portcullis_tcp_connections_refused_total{reason=max_connections}": 1,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("series (-want +got):\n%s", d)
	}
}
