package tcpproxy

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func (w *Workers) idleCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.idle)
}

// waitIdle waits until n goroutines of w are waiting.
func waitIdle(t *testing.T, w *Workers, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); w.idleCount() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("idle workers: %d, want %d", w.idleCount(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A goroutine that finished waits and runs the next function; at most maxIdle wait.
func TestWorkersReuseAndBound(t *testing.T) {
	var w Workers
	ran := make(chan int, 1)
	w.Go(func() bool { ran <- 1; return true })
	<-ran
	waitIdle(t, &w, 1)
	w.Go(func() bool { ran <- 2; return true })
	if w.idleCount() != 0 {
		t.Fatal("the waiting goroutine was not taken")
	}
	<-ran
	waitIdle(t, &w, 1)

	// 2*maxIdle functions running at once: all run, then only maxIdle goroutines wait.
	var started, release sync.WaitGroup
	release.Add(1)
	n := 2 * maxIdle
	before := runtime.NumGoroutine() // the one waiting goroutine included: the batch takes it
	started.Add(n)
	for range n {
		w.Go(func() bool { started.Done(); release.Wait(); return true })
	}
	started.Wait()
	release.Done()
	waitIdle(t, &w, maxIdle)
	// The others exit once they find the idle list full; until every one has, one of them
	// could still take the place the next step frees.
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before-1+maxIdle; {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d, want at most %d", runtime.NumGoroutine(), before-1+maxIdle)
		}
		time.Sleep(time.Millisecond)
	}

	// A function returning false ends its goroutine.
	w.Go(func() bool { ran <- 4; return false })
	<-ran
	time.Sleep(10 * time.Millisecond)
	if got := w.idleCount(); got != maxIdle-1 {
		t.Fatalf("idle workers after a function returned false: %d, want %d", got, maxIdle-1)
	}

	w.Close()
	if w.idleCount() != 0 {
		t.Fatal("Close left goroutines waiting")
	}
	// After Close, functions still run (on a goroutine that then exits).
	w.Go(func() bool { ran <- 3; return true })
	if v := <-ran; v != 3 {
		t.Fatal(v)
	}
	time.Sleep(10 * time.Millisecond)
	if w.idleCount() != 0 {
		t.Fatal("a goroutine waits after Close")
	}
}

// BenchmarkStackGrowth: a function needing a grown stack, on new goroutines vs Workers.
func BenchmarkStackGrowth(b *testing.B) {
	deep := func() {
		var f func(int) int
		f = func(n int) int {
			var pad [256]byte
			pad[n%256] = byte(n)
			if n == 0 {
				return int(pad[0])
			}
			return f(n-1) + int(pad[n%256])
		}
		f(40) // ~12 KiB of stack
	}
	run := func(b *testing.B, spawn func(func() bool)) {
		done := make(chan struct{})
		for b.Loop() {
			spawn(func() bool { deep(); done <- struct{}{}; return true })
			<-done
		}
	}
	b.Run("go", func(b *testing.B) { run(b, func(f func() bool) { go f() }) })
	b.Run("workers", func(b *testing.B) {
		var w Workers
		defer w.Close()
		run(b, w.Go)
	})
}
