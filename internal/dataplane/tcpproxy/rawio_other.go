//go:build !linux

package tcpproxy

import "net"

// sock: raw socket calls are Linux only (see rawio.go); elsewhere streams use net.Conn.
type sock struct{ net.Conn }

func newSock(net.Conn) *sock { return nil }
