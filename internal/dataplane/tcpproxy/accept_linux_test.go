//go:build linux

package tcpproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testnet"
	"github.com/portcullis/portcullis/internal/testkit"
)

// echoBackend echoes every connection until its EOF, then half-closes it.
func echoBackend(t *testing.T) string { return testnet.Echo(t) }

// acceptGateway has a loop of x accept on a loopback listener: a first message is a
// line; each connection with one is piped to backend (DialLoop) on a goroutine, as the
// listener's worker does. firsts counts the connections given to Conn.
type acceptGateway struct {
	x      *Proxy
	ln     *net.TCPListener
	stop   func()
	firsts atomic.Int64
	done   chan Result
}

func newAcceptGateway(t *testing.T, timeout time.Duration, backend string) *acceptGateway {
	t.Helper()
	g := &acceptGateway{x: &Proxy{Engine: EngineLoop}, done: make(chan Result, 1000)}
	g.ln, g.stop = loopListen(t, g.x, g.acceptor(timeout, backend))
	return g
}

// acceptor pipes each connection with a first line to backend.
func (g *acceptGateway) acceptor(timeout time.Duration, backend string) Acceptor {
	return Acceptor{
		Complete: func(b []byte) (bool, error) {
			if bytes.HasPrefix(b, []byte("bad")) {
				return false, errors.New("not a line")
			}
			return bytes.IndexByte(b, '\n') >= 0, nil
		},
		Timeout: timeout,
		Conn: func(c *Upstream, data []byte, err error) {
			g.firsts.Add(1)
			if err != nil {
				_ = c.Close()
				return
			}
			go func() {
				up, ok, err := g.x.DialLoop(c, backend, time.Second, nil, net.KeepAliveConfig{})
				if !ok || err != nil {
					_ = c.Close()
					return
				}
				g.done <- g.x.Pipe(c, up, data, time.Minute, &counts{})
			}()
		},
	}
}

// TestAcceptQueued: connections queued in the listen backlog before the loop takes the
// socket, each with its first message sent, are all handed over, though the socket is
// taken one connection per poll and Conn here closes each one (no other socket's event
// wakes the loop).
func TestAcceptQueued(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 64
	for i := range n {
		c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := fmt.Fprintf(c, "queued %d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	var got atomic.Int64
	x := &Proxy{Engine: EngineLoop}
	stop, err := x.Accept(ln, Acceptor{
		Complete: func(b []byte) (bool, error) { return bytes.IndexByte(b, '\n') >= 0, nil },
		Timeout:  time.Second,
		Conn: func(c *Upstream, _ []byte, _ error) {
			got.Add(1)
			_ = c.Close()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for deadline := time.Now().Add(5 * time.Second); got.Load() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d queued connections handed over", got.Load(), n)
		}
	}
}

func (g *acceptGateway) dial(t *testing.T) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, g.ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// loopListen has a loop of x accept a on a new loopback listener, until the test ends.
// The listener is plain TCP, as the gateway's are (net listens with MPTCP by default).
func loopListen(t testing.TB, x *Proxy, a Acceptor) (*net.TCPListener, func()) {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := l.(*net.TCPListener)
	stop, err := x.Accept(ln, a)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); ln.Close() })
	return ln, stop
}

// echoMany has n clients at once send "first i\npayload i" to addr, half-close and
// require the same bytes back.
func echoMany(t *testing.T, addr *net.TCPAddr, n int, first string) {
	t.Helper()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			c, err := net.DialTCP("tcp", nil, addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			msg := fmt.Sprintf("%s %d\npayload %d", first, i, i)
			if _, err := c.Write([]byte(msg)); err != nil {
				errs <- err
				return
			}
			_ = c.CloseWrite()
			got, err := io.ReadAll(c)
			if err == nil && string(got) != msg {
				err = fmt.Errorf("echo %q, want %q", got, msg)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccept: a loop accepts, reads each first message (whole, split over segments,
// never whole: closed at the timeout without an answer, ended early: closed), and hands
// it over; stop closes the connections still reading and stops accepting; no descriptor
// or goroutine is left.
func TestAccept(t *testing.T) {
	backend := echoBackend(t) // first: the runtime's poller descriptors exist from here
	goroutines, fds := runtime.NumGoroutine(), testkit.OwnDescriptors(t)
	const timeout = 300 * time.Millisecond
	g := newAcceptGateway(t, timeout, backend)

	t.Run("many at once", func(t *testing.T) { echoMany(t, g.ln.Addr().(*net.TCPAddr), 200, "hello") })
	t.Run("split", func(t *testing.T) {
		c := g.dial(t)
		for _, part := range []string{"hel", "lo", "\nrest"} {
			if _, err := c.Write([]byte(part)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond) // a segment each
		}
		_ = c.CloseWrite()
		if got, err := io.ReadAll(c); err != nil || string(got) != "hello\nrest" {
			t.Fatalf("echo %q, %v", got, err)
		}
	})
	t.Run("never whole", func(t *testing.T) {
		before := g.firsts.Load()
		c := g.dial(t)
		start := time.Now()
		if _, err := c.Write([]byte("no newline")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 10))
		took := time.Since(start)
		if n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("read %d, %v: want the connection closed without an answer", n, err)
		}
		if took < timeout || took > timeout*2+scanMax/4 {
			t.Fatalf("closed after %v, timeout %v", took, timeout)
		}
		if g.firsts.Load() != before {
			t.Fatal("a connection without a whole first message reached Conn")
		}
	})
	t.Run("not a message", func(t *testing.T) {
		before := g.firsts.Load()
		c := g.dial(t)
		_, _ = c.Write([]byte("bad"))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read data")
		}
		if g.firsts.Load() != before+1 {
			t.Fatal("Complete's error did not reach Conn")
		}
	})
	t.Run("ends early", func(t *testing.T) {
		before := g.firsts.Load()
		c := g.dial(t)
		_, _ = c.Write([]byte("partial"))
		c.Close()
		time.Sleep(50 * time.Millisecond)
		if g.firsts.Load() != before {
			t.Fatal("a connection that ended before its first message reached Conn")
		}
	})
	t.Run("stop", func(t *testing.T) {
		running := g.dial(t) // a stream: goes on after stop
		if _, err := running.Write([]byte("stream\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 7)
		if _, err := io.ReadFull(running, buf); err != nil {
			t.Fatal(err)
		}
		pending := g.dial(t)
		_, _ = pending.Write([]byte("partial"))
		time.Sleep(30 * time.Millisecond)
		g.stop()
		g.ln.Close()
		_ = pending.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := pending.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a connection still reading its first message: %v, want closed", err)
		}
		if c, err := net.DialTimeout("tcp", g.ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Fatal("still accepting after stop")
		}
		if _, err := running.Write([]byte("more")); err != nil {
			t.Fatal(err)
		}
		_ = running.CloseWrite()
		if got, err := io.ReadAll(running); err != nil || string(got) != "more" {
			t.Fatalf("the stream after stop: %q, %v", got, err)
		}
	})
	// Every stream ended; after the linger the loop is gone, and no descriptor is left.
	for deadline := time.Now().Add(5 * time.Second); loopRunning(g.x) || runtime.NumGoroutine() > goroutines || testkit.OwnDescriptors(t) > fds; {
		if time.Now().After(deadline) {
			t.Fatalf("loop running %v, goroutines %d (before %d), descriptors %d (before %d)",
				loopRunning(g.x), runtime.NumGoroutine(), goroutines, testkit.OwnDescriptors(t), fds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
