//go:build !linux

package tcpproxy

import (
	"net"
	"time"
)

// The event loop is Linux only (loop.go); elsewhere every stream uses goroutines.
type loopSet struct{}

func (x *Proxy) pipeLoop(*pipe) (done, upDone, downDone bool) { return false, false, false }

// Close closes c (see loop.go).
func (x *Proxy) Close(c net.Conn) error { return c.Close() }

// DialLoop: the raw dial is Linux only (dial_linux.go); ok false: dial with Dial.
func (x *Proxy) DialLoop(net.Conn, string, time.Duration, []byte, net.KeepAliveConfig) (c net.Conn, ok bool, err error) {
	return nil, false, nil
}
