//go:build linux

package tcpproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestNetConnErrors: the raw connection reads and writes like the *net.TCPConn it wraps
// and reports errors as net.Conn does (callers classify them by Op, Timeout, io.EOF).
func TestNetConnErrors(t *testing.T) {
	if NetConn(&net.UnixConn{}) != nil {
		t.Fatal("NetConn of a non-TCP connection: want nil")
	}
	client, server := tcpPair(t)
	c := NetConn(server)
	if c == nil {
		t.Fatal("NetConn(*net.TCPConn) = nil")
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf) // waits for readability if the bytes are not there yet
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(client, buf[:4]); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	// A deadline: a *net.OpError "read" that is a timeout.
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(buf)
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" || !oe.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %#v; want *net.OpError read, timeout", err)
	}
	c.SetReadDeadline(time.Time{})
	// The peer closes: io.EOF itself.
	client.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("read after peer close: %v; want io.EOF", err)
	}
	// Closed locally: *net.OpError "write" wrapping net.ErrClosed.
	c.Close()
	if _, err := c.Write([]byte("x")); !errors.As(err, &oe) || oe.Op != "write" || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v; want *net.OpError write, net.ErrClosed", err)
	}
}

// TestNetConnNoAllocs: a read and a write allocate nothing.
func TestNetConnNoAllocs(t *testing.T) {
	client, server := tcpPair(t)
	c := NetConn(server)
	msg, buf := []byte("0123456789"), make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("%.1f allocations per exchange; want 0", allocs)
	}
}
