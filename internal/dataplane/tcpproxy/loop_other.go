//go:build !linux

package tcpproxy

import "net"

// The event loop is Linux only (loop.go); elsewhere every stream uses goroutines.
type loopSet struct{}

func (x *Proxy) pipeLoop(*pipe) (done, upDone, downDone bool) { return false, false, false }

// Close closes c (see loop.go).
func Close(c net.Conn) error { return c.Close() }
