package h2

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// The idle timer is not reset per stream (design 0028): it fires, finds the connection
// idle for less than IdleTimeout and waits for the rest. So the GOAWAY still comes
// IdleTimeout after the last stream ended, not after the first.
func TestIdleTimeoutCountsFromLastStream(t *testing.T) {
	const idle = 500 * time.Millisecond
	e := newEnv(t, http.HandlerFunc(okHandler), func(s *Server) { s.IdleTimeout = idle })
	r := e.raw(t)
	r.headers(1, true, get("/")...)
	if s := r.status(1); s != "200" {
		t.Fatalf("status %s", s)
	}
	time.Sleep(300 * time.Millisecond) // the timer armed at the first idle fires 200 ms after the next
	r.headers(3, true, get("/")...)
	if s := r.status(3); s != "200" {
		t.Fatalf("status %s", s)
	}
	last := time.Now()
	g := r.goAway()
	if g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 3 {
		t.Errorf("GOAWAY %v last %d, want NO_ERROR last 3", g.ErrCode, g.LastStreamID)
	}
	// Not before IdleTimeout after the last stream (less the time its response took to
	// reach us); a timer counting from the first idle would send it ~200 ms after.
	if d := time.Since(last); d < idle-150*time.Millisecond {
		t.Errorf("GOAWAY %v after the last stream ended, want about %v", d, idle)
	}
}

// Idle handler goroutines wait on the pool's stack; the reaper sends away those idle for
// workerIdle (oldest first) and re-arms for the rest, and Close sends away every one.
func TestWorkerPool(t *testing.T) {
	both := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	go func() { started.Wait(); close(both) }()
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pair" { // two handlers running at once: two workers
			started.Done()
			<-both
		}
		okHandler(w, r)
	}))
	r := e.raw(t)
	r.headers(1, true, get("/pair")...)
	r.headers(3, true, get("/pair")...)
	ended := 0
	r.next(func(f http2.Frame) bool {
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			ended++
		}
		return ended == 2
	})
	p := &e.srv.pool
	idleWorkers := func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.idle) }
	eventually(t, "both handler goroutines to go idle", func() bool { return idleWorkers() == 2 })
	// A new stream takes the worker that went idle last, and gives it back.
	r.headers(5, true, get("/")...)
	if s := r.status(5); s != "200" {
		t.Fatalf("status %s", s)
	}
	eventually(t, "the worker to come back", func() bool { return idleWorkers() == 2 })

	// Age every idle worker but the top one past workerIdle, then reap.
	p.mu.Lock()
	old := e.srv.clock() - int64(workerIdle) - 1
	for _, w := range p.idle[:len(p.idle)-1] {
		w.since = old
	}
	p.mu.Unlock()
	e.srv.reapWorkers()
	p.mu.Lock()
	left, armed := len(p.idle), p.armed
	p.mu.Unlock()
	if left != 1 || !armed {
		t.Errorf("after reaping: %d idle workers (armed %v), want 1 and the reaper armed", left, armed)
	}
	_ = e.srv.Close()
	p.mu.Lock()
	left, armed = len(p.idle), p.armed
	p.mu.Unlock()
	if left != 0 || armed {
		t.Errorf("after Close: %d idle workers (armed %v), want none", left, armed)
	}
}
