package listener

import (
	"net"
	"net/http"
	"testing"
	"time"
)

// The watch clock runs only while the listener tracks a connection: an idle listener (or
// one that carries passthrough streams only) takes no wake-ups for it.
func TestWatchClockStopsWhenIdle(t *testing.T) {
	l, err := Listen(Config{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.Serve() }()
	defer func() {
		_ = l.Close()
		<-served
	}()
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
