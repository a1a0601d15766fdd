//go:build !linux

package tcpproxy

import (
	"errors"
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

// Upstream: raw sockets are Linux only (dial_linux.go); none is ever made elsewhere.
type Upstream struct{ net.Conn }

// NetConn: see dial_linux.go.
func (u *Upstream) NetConn() (*net.TCPConn, error) { return nil, errRawLinux }

var errRawLinux = errors.New("tcpproxy: raw sockets are Linux only")

// Accept: accepting in a loop is Linux only (accept_linux.go).
func (x *Proxy) Accept(*net.TCPListener, Acceptor) (stop func(), err error) {
	return nil, errRawLinux
}

// Start: carrying a stream in a loop is Linux only (start_linux.go); false: use Pipe.
func (x *Proxy) Start(*Upstream, *StreamSpec) bool { return false }
