//go:build linux

package tcpproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testnet"
	"github.com/portcullis/portcullis/internal/testkit"
)

// startGateway has a loop of x accept on a loopback listener and carry each connection
// whose first message (its first prefix bytes, or a line when prefix is 0) is whole
// with Start: no goroutine per connection. spec fills the rest of the StreamSpec.
type startGateway struct {
	x      *Proxy
	ln     *net.TCPListener
	stop   func()
	dialed chan error
	done   chan Result
	mu     sync.Mutex
	conns  []*Upstream // the accepted connections, in order
	ups    []*Upstream // their upstream connections (once dialed)
	notRaw atomic.Int64
}

func newStartGateway(t testing.TB, prefix int, spec func(*StreamSpec)) *startGateway {
	t.Helper()
	g := &startGateway{x: &Proxy{Engine: EngineLoop}, dialed: make(chan error, 1000), done: make(chan Result, 1000)}
	g.ln, g.stop = loopListen(t, g.x, Acceptor{
		Complete: func(b []byte) (bool, error) {
			if prefix > 0 {
				return len(b) >= prefix, nil
			}
			return bytes.IndexByte(b, '\n') >= 0, nil
		},
		Timeout: 5 * time.Second,
		Conn: func(c *Upstream, data []byte, err error) {
			if err != nil {
				_ = c.Close()
				return
			}
			g.mu.Lock()
			g.conns = append(g.conns, c)
			g.mu.Unlock()
			sp := &StreamSpec{Prefix: data, Counter: &counts{}, Timeout: time.Second}
			sp.Dialed = func(err error) bool {
				if err == nil {
					g.mu.Lock()
					g.ups = append(g.ups, c.s.up.conn.(*Upstream))
					g.mu.Unlock()
				}
				g.dialed <- err
				return err == nil
			}
			sp.Done = func(r Result) { g.done <- r }
			spec(sp)
			if !g.x.Start(c, sp) {
				g.notRaw.Add(1)
				_ = c.Close()
			}
		},
	})
	return g
}

func (g *startGateway) dial(t testing.TB) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, g.ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (g *startGateway) last() (client, up *Upstream) {
	g.mu.Lock()
	defer g.mu.Unlock()
	client = g.conns[len(g.conns)-1]
	if len(g.ups) > 0 {
		up = g.ups[len(g.ups)-1]
	}
	return client, up
}

// await returns the next value of ch within 5 s.
func await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s", what)
	}
	var zero T
	return zero
}

// closedByGateway: c's gateway end was closed without an answer.
func closedByGateway(t testing.TB, c *net.TCPConn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d, %v: want the connection closed", n, err)
	}
}

// fullQueue is a listening address whose accept queue is full: a connect to it waits.
func fullQueue(t testing.TB) string { return testnet.FullQueue(t) }

// TestStart: streams carried by the loop from the connect to the end (Start): echoed
// exchanges many at once, a refused connect and a connect timeout (Dialed's errors as
// DialLoop's, Done called, the client closed), Dialed refusing, Close while connecting
// and while copying, and a bulk stream that leaves the loop for splice. Afterwards no
// socket is left in the loop, no descriptor and no goroutine.
func TestStart(t *testing.T) {
	backend := echoBackend(t)
	refusing := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)) // nothing listens
	slow := fullQueue(t)
	goroutines, fds := runtime.NumGoroutine(), testkit.OwnDescriptors(t)
	target := map[string]string{"echo": backend, "refuse": refusing, "slow": slow}
	var accept atomic.Bool // Dialed's answer for "echo"
	accept.Store(true)
	g := newStartGateway(t, 0, func(sp *StreamSpec) {
		name := string(bytes.TrimSpace(bytes.SplitN(sp.Prefix, []byte(" "), 2)[0]))
		sp.Addr = target[name]
		if name == "slow" {
			sp.Timeout = 150 * time.Millisecond
			if bytes.Contains(sp.Prefix, []byte("long")) {
				sp.Timeout = 10 * time.Second
			}
		}
		if !accept.Load() {
			dialed := sp.Dialed
			sp.Dialed = func(err error) bool { dialed(err); return false }
		}
	})

	t.Run("many at once", func(t *testing.T) {
		const n = 200
		echoMany(t, g.ln.Addr().(*net.TCPAddr), n, "echo")
		for range n {
			if err := await(t, g.dialed, "Dialed"); err != nil {
				t.Fatal(err)
			}
			if r := await(t, g.done, "Done"); r.Received != r.Sent || r.Received < 14 {
				t.Fatalf("result %+v", r)
			}
		}
		if g.notRaw.Load() != 0 {
			t.Fatal("Start did not apply")
		}
	})
	t.Run("refused", func(t *testing.T) {
		c := g.dial(t)
		_, _ = c.Write([]byte("refuse\n"))
		err := await(t, g.dialed, "Dialed")
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Dialed(%v): want a dial error, connection refused", err)
		}
		if r := await(t, g.done, "Done"); r != (Result{}) {
			t.Fatalf("result %+v", r)
		}
		closedByGateway(t, c)
	})
	t.Run("connect timeout", func(t *testing.T) {
		c := g.dial(t)
		start := time.Now()
		_, _ = c.Write([]byte("slow\n"))
		err := await(t, g.dialed, "Dialed")
		took := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Dialed(%v): want the deadline", err)
		}
		if took < 150*time.Millisecond || took > time.Second {
			t.Fatalf("timed out after %v, timeout 150ms", took)
		}
		await(t, g.done, "Done")
		closedByGateway(t, c)
	})
	t.Run("Dialed refuses", func(t *testing.T) {
		accept.Store(false)
		defer accept.Store(true)
		c := g.dial(t)
		_, _ = c.Write([]byte("echo\n"))
		if err := await(t, g.dialed, "Dialed"); err != nil {
			t.Fatal(err)
		}
		await(t, g.done, "Done")
		closedByGateway(t, c)
	})
	t.Run("Close while connecting", func(t *testing.T) {
		c := g.dial(t)
		_, _ = c.Write([]byte("slow long\n"))
		connecting := func(u *Upstream) bool {
			u.s.l.mu.Lock()
			defer u.s.l.mu.Unlock()
			return u.s.mode.Load() == modeDial && u.s.spec != nil
		}
		var client *Upstream
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if cl, _ := g.last(); bytes.HasPrefix(cl.s.first, []byte("slow long")) && connecting(cl) {
				client = cl
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("not connecting")
			}
		}
		start := time.Now()
		_ = g.x.Close(client) // as the listener's Close and maxConnectionDuration
		if err := await(t, g.dialed, "Dialed"); err != ErrAborted {
			t.Fatalf("Dialed(%v), want ErrAborted", err)
		}
		await(t, g.done, "Done")
		if took := time.Since(start); took > time.Second {
			t.Fatalf("ended %v after Close", took)
		}
		closedByGateway(t, c)
	})
	t.Run("Close while copying", func(t *testing.T) {
		c := g.dial(t)
		_, _ = c.Write([]byte("echo\n"))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		await(t, g.dialed, "Dialed")
		client, _ := g.last()
		_ = g.x.Close(client)
		if r := await(t, g.done, "Done"); r.Received != 5 || r.Sent != 5 {
			t.Fatalf("result %+v", r)
		}
		closedByGateway(t, c)
	})
	t.Run("bulk", func(t *testing.T) {
		c := g.dial(t)
		const size = 4 << 20
		want := append([]byte("echo bulk\n"), pattern(0, size, 9)...)
		go func() {
			_, _ = c.Write(want)
		}()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(want)/2)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		// Mid-stream: it left the loop (neither socket in its epoll instance: only the
		// listening socket is), and both sockets are *net.TCPConn now, which io.Copy
		// splices between.
		client, up := g.last()
		if n := epollFDs(t, client.s.l); n != 1 {
			t.Fatalf("%d sockets in the loop's epoll instance during bulk, want the listener's only", n)
		}
		for _, u := range []*Upstream{client, up} {
			u.mu.Lock()
			_, moved := u.moved.(*net.TCPConn)
			u.mu.Unlock()
			if !moved {
				t.Fatal("a bulk stream's socket is not a *net.TCPConn: no splice")
			}
		}
		_ = c.CloseWrite()
		rest, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(append(got, rest...), want) {
			t.Fatalf("echo of %d bytes: %d back (equal: %v), %v", len(want), len(got)+len(rest), bytes.Equal(append(got, rest...), want), err)
		}
		await(t, g.dialed, "Dialed")
		if r := await(t, g.done, "Done"); r.Received != int64(len(want)) || r.Sent != int64(len(want)) {
			t.Fatalf("result %+v, want %d each way", r, len(want))
		}
	})
	g.stop()
	g.ln.Close()
	for deadline := time.Now().Add(5 * time.Second); loopRunning(g.x) || runtime.NumGoroutine() > goroutines || testkit.OwnDescriptors(t) > fds; {
		if time.Now().After(deadline) {
			t.Fatalf("loop running %v, goroutines %d (before %d), descriptors %d (before %d)",
				loopRunning(g.x), runtime.NumGoroutine(), goroutines, testkit.OwnDescriptors(t), fds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// proxiedAcceptLinux is proxied for engineLoopAccept: the client's first bytes are the
// prefix (at least one), accepted and read by a loop, and the stream is carried by Start.
func proxiedAcceptLinux(t testing.TB, prefix []byte, idle time.Duration, cnt Counter) (client, upstream *net.TCPConn, done <-chan Result) {
	t.Helper()
	if len(prefix) == 0 {
		t.Fatal("the accepted engine needs a prefix")
	}
	addr, ch := acceptOne(t)
	g := newStartGateway(t, len(prefix), func(sp *StreamSpec) {
		sp.Addr, sp.Idle, sp.Counter = addr.String(), idle, cnt
	})
	client = g.dial(t)
	if _, err := client.Write(prefix); err != nil {
		t.Fatal(err)
	}
	upstream = await(t, ch, "upstream connection")
	t.Cleanup(func() { upstream.Close() })
	if err := await(t, g.dialed, "Dialed"); err != nil {
		t.Fatal(err)
	}
	return client, upstream, g.done
}

func init() {
	proxiedAccept = proxiedAcceptLinux
	fuzzEngines = append(fuzzEngines, engineLoopAccept)
}
