//go:build linux

package tcpproxy

import (
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
