package credential

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestConcurrentGetDuringSync runs handshake-path reads against rotations (run with -race):
// a reader sees one complete version or another, never a torn one, and never nothing.
func TestConcurrentGetDuringSync(t *testing.T) {
	ca := newCA(t, "frontend")
	ms := []material{newMaterial(t, ca, "frontend.foocorp.com"), newMaterial(t, ca, "frontend.foocorp.com")}
	s := New(nil, newClock(t0).Now, nil)
	refs := []snapshot.CredentialRef{mutual}
	s.Sync(refs, map[string]map[string][]byte{frontend: ms[0].generic()})
	var notified atomic.Int64
	s.OnChange(func() { notified.Add(1) })

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				c, ok := s.Get(mutual.Key())
				if !ok {
					errs <- "credential missing during rotation"
					return
				}
				if c.Certificate.Leaf.SerialNumber.Text(16) != c.Serial {
					errs <- "torn credential"
					return
				}
				_ = s.Status()
			}
		})
	}
	const rotations = 200
	var syncers sync.WaitGroup
	for g := range 2 {
		syncers.Go(func() {
			for i := range rotations {
				s.Sync(refs, map[string]map[string][]byte{frontend: ms[(i+g)%2].generic()})
			}
		})
	}
	syncers.Wait()
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if notified.Load() == 0 {
		t.Error("no change notifications")
	}
}
