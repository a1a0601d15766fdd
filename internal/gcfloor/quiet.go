package gcfloor

import (
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Returning memory when quiet. A burst of work (thousands of TLS handshakes, a large
// configuration change) leaves the heap at the goal it grew to: after the next
// collection most of it is free but still resident, and with GOGC=100 the runtime keeps
// it (up to about the goal) for the allocations it expects next. A gateway then sits
// holding idle connections for minutes at twice the memory they need. So once the
// process has been quiet for a while — almost nothing allocated — a Releaser runs one
// collection and returns every free page to the operating system (debug.FreeOSMemory),
// then waits for the next busy period before it would do so again. The collection and the
// return cost CPU in proportion to the heap — ~50 ms for the 130 MB of 5,000 held mTLS
// connections — spent only when there is nothing else to do; the first allocations after
// it fault pages back in.
const (
	quietTick = 500 * time.Millisecond
	// quietTicks consecutive ticks that each allocated less than quietAlloc make the
	// process quiet (1 s below 1 MiB/s: a few hundred requests a second at most).
	quietTicks = 2
	quietAlloc = 512 << 10
	// minRelease is the least resident heap beyond the live heap worth a collection.
	minRelease = 8 << 20
	// Intermittent load (design 0025): a release followed by load within regretTicks
	// (10 s) was premature — the next burst faults the returned pages back in, a page
	// fault per 4 KiB the heap grows through — so the quiet needed before the next release
	// grows ×4 (up to maxQuietTicks, 60 s). A release that stays right for regretTicks
	// brings it back to quietTicks.
	regretTicks   = 20
	maxQuietTicks = 120
)

// Releaser returns free memory to the operating system when the process is quiet.
type Releaser struct {
	stop     chan struct{}
	done     chan struct{}
	releases atomic.Int64
}

// StartReleaser starts watching for quiet periods until Stop.
func StartReleaser() *Releaser {
	r := &Releaser{stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

// Stop ends the watching and waits for it to end.
func (r *Releaser) Stop() {
	close(r.stop)
	<-r.done
}

// Releases is how many times memory was returned.
func (r *Releaser) Releases() int64 { return r.releases.Load() }

func (r *Releaser) loop() {
	defer close(r.done)
	s := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}, // live, and garbage not yet collected
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"}, // free and resident
		{Name: "/gc/heap/live:bytes"},             // as the last collection marked it
	}
	tick := time.NewTicker(quietTick)
	defer tick.Stop()
	var q quietState
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		metrics.Read(s)
		resident := value(s[1]) + value(s[2]) + value(s[3])
		if q.observe(value(s[0]), resident-min(resident, value(s[4]))) {
			debug.FreeOSMemory()
			r.releases.Add(1)
		}
	}
}

// quietState decides, tick by tick, when to release.
type quietState struct {
	lastAllocs uint64
	quiet      int  // consecutive quiet ticks
	released   bool // released in this quiet period
	need       int  // quiet ticks needed before a release (0: quietTicks)
	at         int  // quiet ticks when the release of this period happened
}

// observe takes the cumulative bytes allocated and the resident heap beyond the live
// heap (garbage and free pages) at a tick and reports whether to release now.
func (q *quietState) observe(allocs, spare uint64) bool {
	delta := allocs - q.lastAllocs
	first := q.lastAllocs == 0
	q.lastAllocs = allocs
	if q.need == 0 {
		q.need = quietTicks
	}
	if first || delta >= quietAlloc {
		if q.released { // load is back: was the release premature?
			if q.quiet-q.at < regretTicks {
				q.need = min(q.need*4, maxQuietTicks)
			} else {
				q.need = quietTicks
			}
		}
		q.quiet, q.released = 0, false
		return false
	}
	q.quiet++
	if q.quiet < q.need || q.released || spare < minRelease {
		return false
	}
	q.released, q.at = true, q.quiet
	return true
}

func value(s metrics.Sample) uint64 {
	if s.Value.Kind() == metrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}
