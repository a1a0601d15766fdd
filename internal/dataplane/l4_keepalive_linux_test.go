package dataplane_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestL4UpstreamKeepalive: a plain TCP stream's upstream socket (the event loop's raw
// dial) has the cluster's tcp.tcpKeepalive, and none when the cluster sets none.
func TestL4UpstreamKeepalive(t *testing.T) {
	for _, tc := range []struct {
		name string
		pool *snapshot.ConnectionPool
		want [4]int // SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT; -1 unchecked
	}{
		{"none", nil, [4]int{0, -1, -1, -1}},
		{"tcpKeepalive", &snapshot.ConnectionPool{Keepalive: &snapshot.TCPKeepalive{Probes: 3, TimeSeconds: 30, IntervalSeconds: 5}}, [4]int{1, 30, 5, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peers := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				peers <- c
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "up:%s", l)
				}
			}()
			snap := tcpSnapshot([]snapshot.L4Destination{{Cluster: "up", Weight: 100, ConnectTimeoutMillis: 1000}},
				snapshot.Cluster{Name: "up", Endpoints: []string{ln.Addr().String()}, Pool: tc.pool})
			g := startGatewayObs(t, snap, nil, dataplane.Options{}, &observer{})
			c, got, err := dialLine(t, g.dp.Addr(9443).String(), "x")
			if err != nil || got != "up:x\n" {
				t.Fatalf("stream: %q %v", got, err)
			}
			defer c.Close()
			peer := <-peers
			defer peer.Close()
			// The gateway's upstream socket: the one of this process whose local address
			// is the upstream's peer.
			want := peer.RemoteAddr().(*net.TCPAddr)
			ents, err := os.ReadDir("/proc/self/fd")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range ents {
				fd, err := strconv.Atoi(e.Name())
				if err != nil {
					continue
				}
				sa, err := syscall.Getsockname(fd)
				a, ok := sa.(*syscall.SockaddrInet4)
				if err != nil || !ok || a.Port != want.Port || !want.IP.Equal(net.IP(a.Addr[:])) {
					continue
				}
				found = true
				opts := [4][2]int{{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE}, {syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL}, {syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT}}
				var got [4]int
				for i, o := range opts {
					got[i], _ = syscall.GetsockoptInt(fd, o[0], o[1])
				}
				for i, w := range tc.want {
					if w >= 0 && got[i] != w {
						t.Fatalf("upstream socket keep-alive (on, idle, interval, probes) %v, want %v", got, tc.want)
					}
				}
			}
			if !found {
				t.Fatalf("no socket of this process has local address %v", want)
			}
		})
	}
}
