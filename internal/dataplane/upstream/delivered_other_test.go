//go:build !linux

package upstream

import (
	"net"
	"testing"
	"time"
)

// delivered cannot look at the send queue here: give loopback a moment.
func delivered(_ testing.TB, _ net.Conn, _ <-chan struct{}) { time.Sleep(50 * time.Millisecond) }
