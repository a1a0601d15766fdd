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

// runtimeHeapMinimum is the Go runtime's defaultHeapMinimum: the heap goal is at least
// this × GOGC/100.
const runtimeHeapMinimum = 4 << 20

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
	t := &Tuner{floor: floor, base: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
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
	var v [3]uint64
	for i, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	p := PercentFor(t.floor, v[0], v[1]+v[2], t.base)
	if old := t.last.Load(); p == int(old) || (old > 0 && abs(p-int(old))*20 < int(old)) {
		return // within 5 %: not worth a change
	}
	t.last.Store(int64(p))
	debug.SetGCPercent(p)
}

// PercentFor is the GOGC that puts the next collection at max(floor, live×(1+base/100)).
// roots are the stacks and globals the collector scans: since Go 1.21 the heap goal is
// live + (live + roots)×GOGC/100, so a percentage computed from the live heap alone put
// the goal at floor + roots×(floor−live)/live — about twice the floor for a small heap
// beside a few MiB of globals (design 0025), and twice the fresh pages to fault in.
func PercentFor(floor, live, roots uint64, base int) int {
	if live == 0 {
		return base
	}
	if floor <= live {
		return base
	}
	p := int((floor - live) * 100 / (live + roots))
	// The runtime never sets the goal below its minimum heap, 4 MiB × GOGC/100: a small
	// live heap asking for a large GOGC would otherwise get that minimum as its goal, far
	// above the floor (128 MiB for a 64 MiB floor and 2 MiB live).
	p = min(p, int(floor*100/runtimeHeapMinimum))
	return min(max(p, base), maxPercent)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
