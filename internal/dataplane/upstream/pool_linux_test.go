package upstream

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestDialerKeepalive: tcpKeepalive sets SO_KEEPALIVE with its probes, time and interval
// on the upstream socket; without it the socket has no keep-alive, as Envoy's.
func TestDialerKeepalive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	opt := func(c net.Conn, level, name int) int {
		t.Helper()
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var serr error
		if err := rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), level, name) }); err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		return v
	}
	for _, tc := range []struct {
		ka                         *snapshot.TCPKeepalive
		on, probes, idle, interval int
	}{
		{ka: nil, on: 0},
		{ka: &snapshot.TCPKeepalive{Probes: 3, TimeSeconds: 30, IntervalSeconds: 5}, on: 1, probes: 3, idle: 30, interval: 5},
	} {
		d := Dialer(&snapshot.ConnectionPool{Keepalive: tc.ka}, time.Second)
		c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if got := opt(c, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); got != tc.on {
			t.Errorf("%+v: SO_KEEPALIVE %d, want %d", tc.ka, got, tc.on)
		}
		if tc.on == 1 {
			if p, i, iv := opt(c, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT), opt(c, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE),
				opt(c, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL); p != tc.probes || i != tc.idle || iv != tc.interval {
				t.Errorf("keepalive probes %d time %d interval %d, want %d %d %d", p, i, iv, tc.probes, tc.idle, tc.interval)
			}
		}
		c.Close()
	}
}
