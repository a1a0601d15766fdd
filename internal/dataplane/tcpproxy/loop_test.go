//go:build linux

package tcpproxy

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// epollFDs counts the descriptors registered in l's epoll instance (/proc fdinfo).
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
	return strings.Count(string(b), "tfd:")
}

func loopRunning(x *Proxy) bool {
	for _, l := range x.loops.loops {
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
	for _, l := range x.loops.loops {
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
	for _, l := range x.loops.loops {
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
				_ = Close(gwClient)
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

// TestBackpressure: a slow reader fills the gateway's send buffer; the writing side
// waits for writability (the loop registers EPOLLOUT only then) and no byte is lost.
// Writes of 16 KiB a millisecond apart keep the gateway's reads below the bulk size.
func TestBackpressure(t *testing.T) {
	eachEngine(t, func(t *testing.T, e Engine) {
		x := &Proxy{Engine: e}
		client, gwClient := tcpPair(t)
		gwUp, upstream := tcpPair(t)
		_ = gwUp.SetWriteBuffer(4096)
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
