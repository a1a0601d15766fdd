package feature

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadGen runs workers in a loop, paced, until stopped (or a bound is reached), and
// counts successes and failures.
type loadGen struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	errs       []string
}

// startLoad runs each worker every pace until finish is called (at most 2 minutes). A
// worker returns an error for a failed request.
func startLoad(t testing.TB, pace time.Duration, workers ...func() error) *loadGen {
	l := &loadGen{stop: make(chan struct{})}
	deadline := time.Now().Add(2 * time.Minute)
	for i, w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for time.Now().Before(deadline) {
				if err := w(); err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 10 {
						l.errs = append(l.errs, fmt.Sprintf("worker %d at %s: %v", i, time.Now().Format("15:04:05.000"), err))
					}
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
			}
		}()
	}
	t.Cleanup(l.halt)
	return l
}

func (l *loadGen) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// finish stops the load and fails the test on any failed request.
func (l *loadGen) finish(t testing.TB) (ok int64) {
	t.Helper()
	l.halt()
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d failed requests (of %d):\n%v", n, n+l.ok.Load(), l.errs)
	}
	if l.ok.Load() == 0 {
		t.Error("no successful request")
	}
	return l.ok.Load()
}

// worker wraps a client request as a load worker.
func worker(c *client, path, backend string) func() error {
	return func() error { _, err := c.ok(path, backend); return err }
}
