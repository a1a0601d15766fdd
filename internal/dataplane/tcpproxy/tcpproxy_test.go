package tcpproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// engines are the copy engines every Pipe test and benchmark runs against.
var engines = []struct {
	name string
	e    Engine
}{{"goroutines", EngineGoroutines}, {"loop", EngineLoop}}

// engineLoopDial: the loop with the upstream dialed by DialLoop (Linux: loop_test.go
// adds it to engines).
const engineLoopDial Engine = -1

// engineLoopAccept: the client accepted by a loop (Accept) and the stream carried by
// Start (Linux: start_linux_test.go sets proxiedAccept and adds it to fuzzEngines, the
// engines FuzzEnginesPipe compares besides engines).
const engineLoopAccept Engine = -2

var (
	proxiedAccept func(t testing.TB, prefix []byte, idle time.Duration, cnt Counter) (client, upstream *net.TCPConn, done <-chan Result)
	fuzzEngines   []Engine
)

// upstreamPair returns the gateway's upstream connection and the upstream's end: a
// loopback pair, or for engineLoopDial a DialLoop connection (x's engine set to the loop).
func upstreamPair(t testing.TB, x *Proxy, client net.Conn) (net.Conn, *net.TCPConn) {
	if x.Engine == engineLoopDial {
		x.Engine = EngineLoop
		return dialPair(t, x, client)
	}
	return tcpPair(t)
}

// eachEngine runs f as a subtest per engine.
func eachEngine(t *testing.T, f func(t *testing.T, e Engine)) {
	for _, en := range engines {
		t.Run(en.name, func(t *testing.T) { f(t, en.e) })
	}
}

func eachEngineB(b *testing.B, f func(b *testing.B, e Engine)) {
	for _, en := range engines {
		b.Run(en.name, func(b *testing.B) { f(b, en.e) })
	}
}

type counts struct{ rx, tx atomic.Int64 }

func (c *counts) Received(n int64) { c.rx.Add(n) }
func (c *counts) Sent(n int64)     { c.tx.Add(n) }

// acceptOne listens on loopback for one connection: its address, and the accepted
// connection once dialed.
func acceptOne(t testing.TB) (*net.TCPAddr, <-chan *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *net.TCPConn, 1)
	go func() {
		defer ln.Close()
		c, _ := ln.AcceptTCP()
		ch <- c
	}()
	return ln.Addr().(*net.TCPAddr), ch
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	addr, ch := acceptOne(t)
	a, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// proxied returns a client end and an upstream end with Pipe running between the
// gateway's two sockets.
func proxied(t testing.TB, e Engine, prefix []byte, idle time.Duration, cnt Counter) (client, upstream *net.TCPConn, done <-chan Result) {
	t.Helper()
	if e == engineLoopAccept {
		return proxiedAccept(t, prefix, idle, cnt)
	}
	testProxy := &Proxy{Engine: e}
	client, gwClient := tcpPair(t)
	gwUp, upstream := upstreamPair(t, testProxy, gwClient)
	ch := make(chan Result, 1)
	go func() { ch <- testProxy.Pipe(gwClient, gwUp, prefix, idle, cnt) }()
	return client, upstream, ch
}

func TestPipeHalfCloseBothWays(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		cnt := &counts{}
		client, upstream, done := proxied(t, e, []byte("hello:"), 0, cnt)
		_ = client.SetDeadline(time.Now().Add(5 * time.Second))
		_ = upstream.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := client.Write([]byte("request")); err != nil {
			t.Fatal(err)
		}
		if err := client.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(upstream) // ends at the propagated FIN
		if err != nil || string(got) != "hello:request" {
			t.Fatalf("upstream read %q, %v", got, err)
		}
		// The other direction still flows after the client's FIN.
		if _, err := upstream.Write([]byte("reply")); err != nil {
			t.Fatal(err)
		}
		_ = upstream.CloseWrite()
		back, err := io.ReadAll(client)
		if err != nil || string(back) != "reply" {
			t.Fatalf("client read %q, %v", back, err)
		}
		res := <-done
		if res.Received != 13 || res.Sent != 5 || cnt.rx.Load() != 13 || cnt.tx.Load() != 5 || res.Idle {
			t.Fatalf("result %+v, counted %d/%d", res, cnt.rx.Load(), cnt.tx.Load())
		}
	})
}

func TestPipeIdleTimeout(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		client, upstream, done := proxied(t, e, nil, 200*time.Millisecond, &counts{})
		_ = client.SetDeadline(time.Now().Add(5 * time.Second))
		_ = upstream.SetDeadline(time.Now().Add(5 * time.Second))
		// Bytes one way every 100 ms keep both directions open past the timeout.
		buf := make([]byte, 1)
		for range 5 {
			if _, err := upstream.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(client, buf); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		start := time.Now()
		res := <-done
		if !res.Idle {
			t.Fatalf("result %+v", res)
		}
		if _, err := client.Read(buf); err == nil {
			t.Fatal("client still open after the idle timeout")
		}
		t.Logf("closed %v after the last byte", time.Since(start)+100*time.Millisecond)
	})
}

func TestPipeResetClosesBoth(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		client, upstream, done := proxied(t, e, nil, 0, &counts{})
		_ = client.SetLinger(0)
		client.Close() // RST
		_ = upstream.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(upstream); err != nil {
			t.Logf("upstream: %v", err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("pipe did not end after the client reset")
		}
	})
}

func TestLimits(t *testing.T) {
	var l Proxy
	if !l.Acquire("c", 2) || !l.Acquire("c", 2) || l.Acquire("c", 2) {
		t.Fatal("limit 2 not enforced")
	}
	if !l.Acquire("other", 1) {
		t.Fatal("limits are per cluster")
	}
	l.Release("c")
	if !l.Acquire("c", 2) || !l.Acquire("unlimited", 0) {
		t.Fatal("released slot not reusable")
	}
}

// BenchmarkPipeBulk moves 64 MiB per op from client to upstream through Pipe between two
// *net.TCPConn pairs: the copy runs as splice(2) (see package doc; `strace -f -c` on the
// benchmark binary counts the splice calls). Reported as MB/s.
func BenchmarkPipeBulk(b *testing.B) {
	eachEngineB(b, func(b *testing.B, e Engine) {
		const size = 64 << 20
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		sink := make([]byte, 1<<20)
		b.SetBytes(size)
		for range b.N {
			client, upstream, done := proxied(b, e, nil, time.Hour, &counts{})
			go func() {
				for sent := 0; sent < size; sent += len(chunk) {
					if _, err := client.Write(chunk); err != nil {
						return
					}
				}
				_ = client.CloseWrite()
			}()
			// 1 MiB reads, so that strace's read count is the consumer's, not the proxy's.
			n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, upstream, sink)
			if err != nil || n != size {
				b.Fatalf("read %d: %v", n, err)
			}
			upstream.CloseWrite()
			<-done
		}
	})
}

// BenchmarkConnection is one short stream per op, the shape of a TLS 1.3 handshake and
// one exchange through passthrough: the gateway accepts, dials the upstream with Dial,
// writes the prefix and runs Pipe; the client and upstream trade a few small messages and
// close. allocs/op and B/op count the whole process (client and upstream included);
// compare them between versions, and run `strace -f -c` on the test binary for the
// syscalls per connection.
func BenchmarkConnection(b *testing.B) {
	eachEngineB(b, func(b *testing.B, e Engine) {
		gw, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer gw.Close()
		up, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer up.Close()
		p := Proxy{Engine: e}
		rawDial := e == engineLoopDial // DialLoop instead of Dial
		if rawDial {
			p.Engine = EngineLoop
		}
		hello := bytes.Repeat([]byte("h"), 512)
		flight := bytes.Repeat([]byte("s"), 3000)
		go func() { // the gateway
			for {
				c, err := gw.AcceptTCP()
				if err != nil {
					return
				}
				go func() {
					buf := make([]byte, len(hello))
					if _, err := io.ReadFull(c, buf); err != nil {
						c.Close()
						return
					}
					u, err := dialFor(&p, rawDial, c, up.Addr().String())
					if err != nil {
						c.Close()
						return
					}
					p.Pipe(c, u, buf, time.Hour, &counts{})
				}()
			}
		}()
		go func() { // the upstream: hello -> flight, finished -> nothing, line -> "ok"
			for {
				c, err := up.AcceptTCP()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 4096)
					if _, err := io.ReadFull(c, buf[:len(hello)]); err != nil {
						return
					}
					_, _ = c.Write(flight)
					if _, err := io.ReadFull(c, buf[:64+3]); err != nil {
						return
					}
					_, _ = c.Write([]byte("ok\n"))
					_, _ = io.Copy(io.Discard, c)
				}()
			}
		}()
		buf := make([]byte, 4096)
		b.ReportAllocs()
		cpu := processCPU()
		for range b.N {
			c, err := net.DialTCP("tcp", nil, gw.Addr().(*net.TCPAddr))
			if err != nil {
				b.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write(hello)
			if _, err := io.ReadFull(c, buf[:len(flight)]); err != nil {
				b.Fatal(err)
			}
			_, _ = c.Write(bytes.Repeat([]byte("f"), 64))
			_, _ = c.Write([]byte("hi\n"))
			if _, err := io.ReadFull(c, buf[:3]); err != nil {
				b.Fatal(err)
			}
			_ = c.CloseWrite()
			if _, err := io.Copy(io.Discard, c); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		// CPU time of the whole process (client, gateway, upstream) per connection: less
		// at the mercy of other jobs on the machine than ns/op.
		if d := processCPU() - cpu; d > 0 {
			b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	})
}

// dialFor dials addr for a stream from c: DialLoop when rawDial, else Dial.
func dialFor(p *Proxy, rawDial bool, c net.Conn, addr string) (net.Conn, error) {
	if rawDial {
		u, _, err := p.DialLoop(c, addr, 10*time.Second, nil, net.KeepAliveConfig{})
		return u, err
	}
	return Dial(context.Background(), addr, 10*time.Second)
}

// TestNetConnErrors: the raw connection reads and writes like the *net.TCPConn it wraps
// and reports errors as net.Conn does (callers classify them by Op, Timeout, io.EOF).
func TestNetConnErrors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("raw socket calls are Linux only")
	}
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
	if runtime.GOOS != "linux" {
		t.Skip("raw socket calls are Linux only")
	}
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
