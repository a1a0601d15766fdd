//go:build !linux

package tcpproxy

import (
	"net"
	"testing"
	"time"
)

func processCPU() time.Duration { return 0 }

func dialPair(t testing.TB, _ *Proxy, _ net.Conn) (net.Conn, *net.TCPConn) {
	t.Skip("DialLoop is Linux only")
	return nil, nil
}
