//go:build linux

package tcpproxy

import (
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestUpstreamCloseRacesNetConn: Close of an Upstream while NetConn turns it into a
// *net.TCPConn (a bulk stream's hand-off on a worker while the listener's shutdown or
// maxConnectionDuration closes its client) must close the connection whichever comes
// first: the peer reads EOF, and no descriptor is closed twice. Before the fix, a Close
// between NetConn's read of the descriptor and its dup closed the raw descriptor under
// NetConn, which then returned a live *net.TCPConn (the dup) that nobody closed, and
// closed the same number a second time.
func TestUpstreamCloseRacesNetConn(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(2 * time.Second)
	open, won := 0, 0
	defer func() { t.Logf("NetConn won %d rounds", won) }()
	for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
		c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
		if err != nil {
			t.Fatal(err)
		}
		peer, err := ln.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		f, err := c.File() // a dup of the socket: the Upstream's raw descriptor
		_ = c.Close()
		if err != nil {
			t.Fatal(err)
		}
		fd, err := syscall.Dup(int(f.Fd()))
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
		_ = syscall.SetNonblock(fd, true)
		u := &Upstream{fd: fd, remote: peer.LocalAddr().(*net.TCPAddr)}
		var wg sync.WaitGroup
		var tc *net.TCPConn
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			tc, _ = u.NetConn()
		}()
		go func() {
			defer wg.Done()
			<-start
			for range i % 400 { // vary where Close lands in NetConn
				syscall.Getpid()
			}
			_ = u.Close()
		}()
		close(start)
		wg.Wait()
		// Whichever came first, Close closed the connection: the peer reads EOF.
		_ = peer.SetReadDeadline(time.Now().Add(time.Second))
		var b [1]byte
		_, rerr := peer.Read(b[:])
		_ = peer.Close()
		if tc != nil {
			won++
			_ = tc.Close()
		}
		if rerr != io.EOF {
			open++
			t.Errorf("round %d: the connection outlived Close (NetConn returned %v): peer read %v", i, tc != nil, rerr)
			if open >= 3 {
				return
			}
		}
	}
}
