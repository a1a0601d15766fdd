package listener

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// The watch clock runs only while the listener tracks a connection: an idle listener (or
// one that carries passthrough streams only) takes no wake-ups for it.
func TestWatchClockStopsWhenIdle(t *testing.T) {
	l := serving(t, Config{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()})
	// Ticks every 125 ms: 3 in 400 ms when running.
	time.Sleep(400 * time.Millisecond)
	if e := l.epoch.Load(); e != 0 {
		t.Fatalf("epoch %d with no connection: the clock ran", e)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.epoch.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("epoch %d after 5s with a connection: the clock did not start", l.epoch.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = c.Close()
	for !l.conns.none() {
		if time.Now().After(deadline) {
			t.Fatal("connection still tracked after its close")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := l.epoch.Load()
	time.Sleep(500 * time.Millisecond)
	// One tick may have been due as the last connection left.
	if e := l.epoch.Load(); e > before+1 {
		t.Fatalf("epoch %d → %d in 500 ms with no connection: the clock kept running", before, e)
	}
}

// TestWatchClockRestartTimeouts: with the watch clock parked while no connection is
// tracked, a request's StreamIdleTimeout still fires between its value and two ticks
// later, on the first connection after an idle spell (clock parked) and on one that
// arrives just after the previous one left (a stale wake-up token).
func TestWatchClockRestartTimeouts(t *testing.T) {
	const idle = 300 * time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a stalled upstream: no byte moves
		w.WriteHeader(http.StatusBadGateway)
	})
	l := serving(t, Config{Addr: "127.0.0.1:0", Handler: h, StreamIdleTimeout: idle})
	once := func(pause time.Duration) time.Duration {
		time.Sleep(pause)
		c, start := askStalled(t, l)
		defer c.Close() // the listener tracks no connection until the next one
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.Body.Close()
		took := time.Since(start)
		if r.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("status %d, want 408", r.StatusCode)
		}
		return took
	}
	for i, pause := range []time.Duration{400 * time.Millisecond, 0, 0, 400 * time.Millisecond, 10 * time.Millisecond, 0} {
		took := once(pause)
		t.Logf("request %d after %v pause: 408 after %v", i, pause, took.Round(time.Millisecond))
		if took < idle || took > idle+2*watchTick+150*time.Millisecond {
			t.Errorf("request %d (after a %v pause): stream idle timeout %v fired after %v", i, pause, idle, took)
		}
	}
}

// serving is a listener for cfg, served until the test ends.
func serving(t *testing.T, cfg Config) *Listener {
	t.Helper()
	l, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.Serve() }()
	t.Cleanup(func() {
		_ = l.Close()
		<-served
	})
	return l
}

// TestTimeoutsDuringShutdown: a request in flight when Shutdown begins keeps its
// StreamIdleTimeout: the watch clock runs on while Shutdown drains (it stops once the
// listener is closing and tracks no connection), so a request stalled on its upstream is
// timed out, and Shutdown returns without waiting for its ctx.
func TestTimeoutsDuringShutdown(t *testing.T) {
	const idle = 300 * time.Millisecond
	started := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done() // a stalled upstream: no byte moves
		w.WriteHeader(http.StatusBadGateway)
	})
	l := serving(t, Config{Addr: "127.0.0.1:0", Handler: h, StreamIdleTimeout: idle})
	c, start := askStalled(t, l)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- l.Shutdown(ctx) }()
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("no response after %v: %v", took, err)
	}
	_ = r.Body.Close()
	serr := <-shut
	t.Logf("status %d after %v; Shutdown: %v", r.StatusCode, took.Round(time.Millisecond), serr)
	if r.StatusCode != http.StatusRequestTimeout || took > idle+2*watchTick+150*time.Millisecond {
		t.Errorf("during Shutdown a stalled request got %d after %v, want 408 after its %v stream idle timeout", r.StatusCode, took, idle)
	}
	if serr != nil {
		t.Errorf("Shutdown: %v (the stalled request was not timed out)", serr)
	}
}

// askStalled sends a request to l on a new connection (closed when the test ends, read
// within 5 s) and returns the connection and when the request was sent.
func askStalled(t *testing.T, l *Listener) (net.Conn, time.Time) {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Write([]byte("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	return c, start
}
