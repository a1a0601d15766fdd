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
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() {
	engines = append(engines, struct {
		name string
		e    Engine
	}{"loop-dial", engineLoopDial})
}

// dialPair dials a loopback listener with x.DialLoop.
func dialPair(t testing.TB, x *Proxy, client net.Conn) (net.Conn, *net.TCPConn) {
	t.Helper()
	addr, ch := acceptOne(t)
	up, ok, err := x.DialLoop(client, addr.String(), 5*time.Second, nil, net.KeepAliveConfig{})
	if !ok || err != nil {
		t.Fatalf("DialLoop: %v, %v", ok, err)
	}
	b := <-ch
	t.Cleanup(func() { up.Close(); b.Close() })
	return up, b
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// epollFDs counts the sockets registered in l's epoll instance (/proc fdinfo; its
// eventfd not counted).
func epollFDs(t *testing.T, l *loop) int {
	t.Helper()
	l.mu.Lock()
	fd, running := l.epfd, l.running
	l.mu.Unlock()
	if !running {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "tfd:") - 1
}

func loopRunning(x *Proxy) bool {
	for _, l := range x.loops.all() {
		l.mu.Lock()
		r := l.running
		l.mu.Unlock()
		if r {
			return true
		}
	}
	return false
}

// TestLoopLeaks: while streams run, the loop's epoll instance holds their sockets; once
// they ended it holds none, and after the linger the loop's goroutine and epoll
// descriptor are gone.
func TestLoopLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	x := &Proxy{Engine: EngineLoop}
	type pair struct{ client, upstream io.ReadWriteCloser }
	var pairs []pair
	var dones []<-chan Result
	for range 8 {
		client, gwClient := tcpPair(t)
		gwUp, upstream := tcpPair(t)
		ch := make(chan Result, 1)
		go func() { ch <- x.Pipe(gwClient, gwUp, nil, time.Hour, &counts{}) }()
		pairs = append(pairs, pair{client, upstream})
		dones = append(dones, ch)
	}
	for _, p := range pairs { // one round trip each: every stream is in its loop
		_, _ = p.client.Write([]byte("ping"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(p.upstream, buf); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, l := range x.loops.all() {
		total += epollFDs(t, l)
	}
	if total != 16 {
		t.Fatalf("%d sockets in the loops' epoll instances, want 16", total)
	}
	for i, p := range pairs {
		p.client.Close()
		p.upstream.Close()
		<-dones[i]
	}
	for _, l := range x.loops.all() {
		if n := epollFDs(t, l); n != 0 {
			t.Fatalf("%d sockets left in a loop's epoll instance", n)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); loopRunning(x) || runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("loop running %v, goroutines %d (before %d)", loopRunning(x), runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLoopClose: Close ends a stream copied by the loop at once (Listener.Close and
// maxConnectionDuration use it), and a conn closed behind the loop's back ends its
// stream by the loop's scan.
func TestLoopClose(t *testing.T) {
	for _, via := range []string{"Close", "conn.Close"} {
		t.Run(via, func(t *testing.T) {
			x := &Proxy{Engine: EngineLoop}
			client, gwClient := tcpPair(t)
			gwUp, upstream := tcpPair(t)
			ch := make(chan Result, 1)
			go func() { ch <- x.Pipe(gwClient, gwUp, nil, 0, &counts{}) }()
			_, _ = client.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(upstream, buf); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			limit := 100 * time.Millisecond
			if via == "Close" {
				_ = x.Close(gwClient)
			} else {
				_ = gwClient.Close()
				limit = scanMax + time.Second
			}
			select {
			case <-ch:
			case <-time.After(limit):
				t.Fatalf("stream still open %v after %s", limit, via)
			}
			_ = upstream.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := upstream.Read(buf); err == nil {
				t.Fatal("upstream still open")
			}
			t.Logf("ended %v after %s", time.Since(start), via)
		})
	}
}

func setSendBuffer(t *testing.T, c net.Conn, n int) {
	rc, err := c.(interface {
		SyscallConn() (syscall.RawConn, error)
	}).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, n) })
}

// TestBackpressure: a slow reader fills the gateway's send buffer; the writing side
// waits for writability (the loop registers EPOLLOUT only then) and no byte is lost.
// Writes of 16 KiB a millisecond apart keep the gateway's reads below the bulk size.
func TestBackpressure(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		x := &Proxy{Engine: e}
		client, gwClient := tcpPair(t)
		gwUp, upstream := upstreamPair(t, x, gwClient)
		setSendBuffer(t, gwUp, 4096)
		ch := make(chan Result, 1)
		go func() { ch <- x.Pipe(gwClient, gwUp, nil, 0, &counts{}) }()
		const total, chunk = 512 << 10, 16 << 10
		want := pattern(0, total, 5)
		go func() {
			for off := 0; off < total; off += chunk {
				if _, err := client.Write(want[off : off+chunk]); err != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
			_ = client.CloseWrite()
		}()
		time.Sleep(100 * time.Millisecond) // the upstream does not read yet: buffers fill
		_ = upstream.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(upstream)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("upstream read %d bytes (equal: %v), %v", len(got), bytes.Equal(got, want), err)
		}
		_ = upstream.CloseWrite()
		if res := <-ch; res.Received != total {
			t.Fatalf("result %+v", res)
		}
	})
}

// TestDialLoop: a server that speaks first (its greeting arrives before the stream
// starts, and the loop is told of it), a refused connect and a connect timeout, with the
// errors Dial gives.
func TestDialLoop(t *testing.T) {
	x := &Proxy{Engine: EngineLoop}
	t.Run("greeting", func(t *testing.T) {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = c.Write([]byte("220 hello\n"))
			b, _ := io.ReadAll(c) // then silent until the client's FIN
			_, _ = c.Write(b)
		}()
		client, gwClient := tcpPair(t)
		up, ok, err := x.DialLoop(gwClient, ln.Addr().String(), time.Second, []byte("HDR "), net.KeepAliveConfig{})
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		time.Sleep(50 * time.Millisecond) // the greeting is in before Pipe starts
		ch := make(chan Result, 1)
		go func() { ch <- x.Pipe(gwClient, up, []byte("pre "), 0, &counts{}) }()
		_ = client.SetDeadline(time.Now().Add(time.Second))
		greeting := make([]byte, 10) // before the client sends anything
		if _, err := io.ReadFull(client, greeting); err != nil || string(greeting) != "220 hello\n" {
			t.Fatalf("greeting %q, %v", greeting, err)
		}
		_, _ = client.Write([]byte("ping"))
		_ = client.CloseWrite()
		got, err := io.ReadAll(client)
		if want := "HDR pre ping"; string(got) != want || err != nil {
			t.Fatalf("client read %q, %v; want %q", got, err, want)
		}
		if res := <-ch; res.Received != 8 || res.Sent != int64(len(greeting)+len(got)) {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("refused", func(t *testing.T) {
		ln, _ := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		addr := ln.Addr().String()
		ln.Close()
		_, gwClient := tcpPair(t)
		_, ok, err := x.DialLoop(gwClient, addr, time.Second, nil, net.KeepAliveConfig{})
		var oe *net.OpError
		if !ok || !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("ok %v, err %v", ok, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// A listener whose accept queue is full drops further SYNs: connect waits.
		addr := fullQueue(t)
		_, gwClient := tcpPair(t)
		start := time.Now()
		_, ok, err := x.DialLoop(gwClient, addr, 100*time.Millisecond, nil, net.KeepAliveConfig{})
		if !ok || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ok %v, err %v after %v", ok, err, time.Since(start))
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("timed out after %v", d)
		}
	})
	t.Run("not applicable", func(t *testing.T) {
		_, gwClient := tcpPair(t)
		if _, ok, _ := x.DialLoop(gwClient, "localhost:1", time.Second, nil, net.KeepAliveConfig{}); ok {
			t.Fatal("a host name is for Dial")
		}
		if _, ok, _ := (&Proxy{Engine: EngineGoroutines}).DialLoop(gwClient, "127.0.0.1:1", time.Second, nil, net.KeepAliveConfig{}); ok {
			t.Fatal("the goroutine engine dials with Dial")
		}
	})
}

// TestDialLoopKeepalive: DialLoop sets the keep-alive it is given as net's dialer would
// (none when not asked, as Envoy's upstream sockets), and the socket keeps it when a
// bulk stream turns it into a *net.TCPConn (net.FileConn would turn keep-alive on with
// 15 s idle).
func TestDialLoopKeepalive(t *testing.T) {
	x := &Proxy{Engine: EngineLoop}
	fresh, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	osIdle, _ := getsockoptInt(fresh, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
	osCount, _ := getsockoptInt(fresh, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
	syscall.Close(fresh)
	read := func(rc syscall.RawConn) [4]int {
		var v [4]int
		if err := rc.Control(func(fd uintptr) {
			for i, o := range keepaliveOpts() {
				v[i], _ = getsockoptInt(int(fd), o[0], o[1])
			}
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		ka   net.KeepAliveConfig
		want [4]int // on, idle, interval, probes; -1: not checked
	}{
		{"none", net.KeepAliveConfig{}, [4]int{0, -1, -1, -1}},
		{"set", net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}, [4]int{1, 30, 5, 3}},
		{"defaults", net.KeepAliveConfig{Enable: true, Idle: -1, Interval: 1500 * time.Millisecond, Count: -1}, [4]int{1, osIdle, 2, osCount}},
		{"go defaults", net.KeepAliveConfig{Enable: true}, [4]int{1, 15, 15, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, ch := acceptOne(t)
			_, gwClient := tcpPair(t)
			c, ok, err := x.DialLoop(gwClient, addr.String(), time.Second, nil, tc.ka)
			if !ok || err != nil {
				t.Fatal(ok, err)
			}
			defer func() { (<-ch).Close() }()
			u := c.(*Upstream)
			check := func(when string, got [4]int) {
				t.Helper()
				for i, w := range tc.want {
					if w >= 0 && got[i] != w {
						t.Errorf("%s: keep-alive (on, idle, interval, probes) %v, want %v", when, got, tc.want)
						return
					}
				}
			}
			rc, _ := u.SyscallConn()
			check("dialed", read(rc))
			tcp, err := u.NetConn() // what a bulk stream continues with
			if err != nil {
				t.Fatal(err)
			}
			defer tcp.Close()
			rc, _ = tcp.SyscallConn()
			check("after the hand-off to net", read(rc))
		})
	}
}
