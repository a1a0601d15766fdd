//go:build !linux

package tcpproxy

import (
	"io"
	"net"
)

// sock: raw socket calls are Linux only (see rawio.go); elsewhere streams use net.Conn.
type sock struct{ net.Conn }

func newSock(net.Conn) *sock { return nil }

// Socket returns c.
func Socket(c net.Conn) io.ReadWriter { return c }

func shutdownWrite(net.Conn) bool { return false }

// NetConn: raw calls are Linux only; elsewhere nil (use c).
func NetConn(net.Conn) net.Conn { return nil }
