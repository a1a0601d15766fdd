package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// maxPercent bounds the GOGC the floor sets (a live heap of a few hundred KiB would
// otherwise ask for an absurd percentage).
const maxPercent = 10000

// Tuner keeps the heap goal at or above a floor until stopped.
type Tuner struct {
	floor   uint64
	base    int // the GOGC in effect when started (restored by Stop)
	stopped atomic.Bool
	last    atomic.Int64 // GOGC last set
	sample  []metrics.Sample
}

// Start sets up the floor (bytes) and returns its Tuner. A floor of 0, or a GOGC that
// disables the collector, starts nothing (Stop is then a no-op).
func Start(floor uint64) *Tuner {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	t := &Tuner{floor: floor, base: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	if floor == 0 || base < 0 {
		t.stopped.Store(true)
		return t
	}
	t.last.Store(int64(base))
	t.adjust()
	t.arm()
	return t
}

// Stop ends the tuning and restores the GOGC in effect before Start.
func (t *Tuner) Stop() {
	if t.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(t.base)
}

// Percent is the GOGC currently set by the tuner.
func (t *Tuner) Percent() int { return int(t.last.Load()) }

// sentinel is unreachable as soon as it is made; its finalizer runs after the next
// collection and makes the next sentinel.
type sentinel struct{ t *Tuner }

func (t *Tuner) arm() {
	s := &sentinel{t: t}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.t.stopped.Load() {
			return
		}
		s.t.adjust()
		s.t.arm()
	})
}

// adjust sets GOGC from the live heap the last collection measured.
func (t *Tuner) adjust() {
	metrics.Read(t.sample)
	live := uint64(0)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	p := PercentFor(t.floor, live, t.base)
	if old := t.last.Load(); p == int(old) || (old > 0 && abs(p-int(old))*20 < int(old)) {
		return // within 5 %: not worth a change
	}
	t.last.Store(int64(p))
	debug.SetGCPercent(p)
}

// PercentFor is the GOGC that puts the next collection at max(floor, live×(1+base/100)).
func PercentFor(floor, live uint64, base int) int {
	if live == 0 {
		return base
	}
	if floor <= live {
		return base
	}
	p := int((floor - live) * 100 / live)
	return min(max(p, base), maxPercent)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
