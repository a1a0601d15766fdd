package dataplane

import (
	"net"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestL4DialKeepalive: streams to a cluster with tcp.tcpKeepalive are dialed by the event
// loop's raw dial with the keep-alive the pool's dialer would set; only TLS origination
// keeps net's dialer.
func TestL4DialKeepalive(t *testing.T) {
	ka := &snapshot.TCPKeepalive{Probes: 3, TimeSeconds: 30, IntervalSeconds: 5}
	for _, tc := range []struct {
		name string
		c    snapshot.Cluster
		raw  bool
		want net.KeepAliveConfig
	}{
		{"no pool", snapshot.Cluster{}, true, net.KeepAliveConfig{}},
		{"pool without keep-alive", snapshot.Cluster{Pool: &snapshot.ConnectionPool{MaxConnections: 5}}, true, net.KeepAliveConfig{}},
		{"keep-alive", snapshot.Cluster{Pool: &snapshot.ConnectionPool{Keepalive: ka}}, true,
			net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}},
		{"keep-alive, time only", snapshot.Cluster{Pool: &snapshot.ConnectionPool{Keepalive: &snapshot.TCPKeepalive{TimeSeconds: 10}}}, true,
			net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: -1, Count: -1}},
		{"TLS origination", snapshot.Cluster{TLS: &snapshot.UpstreamTLS{}}, false, net.KeepAliveConfig{}},
	} {
		if got := rawDialable(&tc.c); got != tc.raw {
			t.Errorf("%s: rawDialable %v, want %v", tc.name, got, tc.raw)
		}
		if got := l4Keepalive(&tc.c); got != tc.want {
			t.Errorf("%s: keep-alive %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
