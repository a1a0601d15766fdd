package listener_test

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
)

// keepAlive reports SO_KEEPALIVE of the TCP socket under c.
func keepAlive(t *testing.T, c net.Conn) int {
	t.Helper()
	if lc, ok := c.(*listener.Conn); ok {
		c = lc.Conn
	}
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v := -1
	_ = rc.Control(func(fd uintptr) {
		v, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Connections served as HTTP keep Go's TCP keep-alive; L4 streams are accepted without
// it (as Envoy's downstream connections), which saves four setsockopt calls each.
func TestKeepAliveHTTPNotStreams(t *testing.T) {
	var tcp atomic.Bool
	httpKA, streamKA := make(chan int, 1), make(chan int, 1)
	f := start(t, false, func(w http.ResponseWriter, r *http.Request) {
		httpKA <- keepAlive(t, listener.ConnFromContext(r.Context()))
	}, func(c *listener.Config) {
		c.TCP = tcp.Load
		c.Stream = func(sc listener.StreamConn) {
			streamKA <- keepAlive(t, sc.Conn)
			_ = sc.Conn.Close()
		}
	})
	c, err := net.DialTimeout("tcp", f.l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	_, _ = io.Copy(io.Discard, c)
	c.Close()
	if v := <-httpKA; v != 1 {
		t.Fatalf("HTTP connection SO_KEEPALIVE = %d, want 1", v)
	}
	tcp.Store(true)
	c, err = net.DialTimeout("tcp", f.l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case v := <-streamKA:
		if v != 0 {
			t.Fatalf("stream SO_KEEPALIVE = %d, want 0", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no stream")
	}
}
