package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name        string
		floor, live uint64
		base, want  int
		roots       uint64
	}{
		{"small heap: the floor binds", 64 * mib, 8 * mib, 100, 700, 0},
		{"heap at the floor", 64 * mib, 64 * mib, 100, 100, 0},
		{"large heap: GOGC as configured", 64 * mib, 512 * mib, 100, 100, 0},
		{"never below the configured GOGC", 64 * mib, 40 * mib, 100, 100, 0},
		{"configured GOGC kept when higher", 64 * mib, 8 * mib, 1000, 1000, 0},
		{"tiny heap: the runtime's minimum heap (4 MiB × GOGC/100) stays at the floor", 64 * mib, 1 << 10, 100, 1600, 0},
		{"tiny heap, huge floor: bounded", 1 << 40, 1 << 10, 100, maxPercent, 0},
		{"stacks and globals count toward the goal", 64 * mib, 8 * mib, 100, 350, 8 * mib},
		{"nothing measured yet", 64 * mib, 0, 100, 100, 0},
	} {
		if got := PercentFor(tc.floor, tc.live, tc.roots, tc.base); got != tc.want {
			t.Errorf("%s: PercentFor(%d, %d, %d, %d) = %d, want %d", tc.name, tc.floor, tc.live, tc.roots, tc.base, got, tc.want)
		}
	}
}

// TestTunerFollowsCollections: with a floor far above the test's live heap, GOGC is raised
// after collections, and Stop restores the configured value.
func TestTunerFollowsCollections(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	tu := Start(1 << 30)
	deadline := time.Now().Add(5 * time.Second)
	for tu.Percent() <= 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer goroutine runs the adjustment
	}
	if tu.Percent() <= 100 {
		t.Fatalf("GOGC still %d with a 1 GiB floor", tu.Percent())
	}
	if got := debug.SetGCPercent(tu.Percent()); got != tu.Percent() {
		t.Fatalf("runtime GOGC %d, tuner says %d", got, tu.Percent())
	}
	tu.Stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("after Stop GOGC is %d, want the configured 100", got)
	}
}

func TestZeroFloorDoesNothing(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	tu := Start(0)
	runtime.GC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC %d with no floor", got)
	}
	tu.Stop()
}

func TestQuietState(t *testing.T) {
	const mib = 1 << 20
	var q quietState
	step := func(allocs, free uint64, want bool) {
		t.Helper()
		if got := q.observe(allocs, free); got != want {
			t.Fatalf("observe(%d, %d) = %v, want %v (state %+v)", allocs, free, got, want, q)
		}
	}
	step(100*mib, 50*mib, false) // first sample: no rate yet
	step(200*mib, 50*mib, false) // busy
	step(200*mib, 50*mib, false) // quiet 1 tick
	step(200*mib, 50*mib, true)  // quiet 2 ticks: release
	step(200*mib, 50*mib, false) // still the same quiet period: once
	for range regretTicks {
		step(200*mib, 50*mib, false) // the release held (see TestQuietBackoff otherwise)
	}
	step(300*mib, 50*mib, false) // busy again
	step(300*mib, 4*mib, false)
	step(300*mib, 4*mib, false) // quiet, but too little free memory to be worth it
	step(300*mib+quietAlloc-1, 20*mib, true)
}

// TestQuietBackoff: a release followed by load within regretTicks makes the next quiet
// period wait four times longer (intermittent load would fault the returned pages back in
// after every gap); a release that stayed right brings the wait back.
func TestQuietBackoff(t *testing.T) {
	const mib = 1 << 20
	var q quietState
	allocs := uint64(0)
	busy := func() {
		allocs += 10 * mib
		if q.observe(allocs, 50*mib) {
			t.Fatal("released while busy")
		}
	}
	// quiet returns the quiet tick (1-based) at which memory was released, 0 if none in n.
	quiet := func(n int) int {
		at := 0
		for i := 1; i <= n; i++ {
			if q.observe(allocs, 50*mib) && at == 0 {
				at = i
			}
		}
		return at
	}
	busy()
	busy()
	if at := quiet(4); at != quietTicks {
		t.Fatalf("first quiet period released at tick %d, want %d", at, quietTicks)
	}
	busy() // two seconds after the release: premature
	if at := quiet(3 * quietTicks); at != 0 {
		t.Fatalf("after a premature release: released at quiet tick %d, want none before %d", at, 4*quietTicks)
	}
	busy()
	if at := quiet(4 * quietTicks); at != 4*quietTicks {
		t.Fatalf("backed-off period released at tick %d, want %d", at, 4*quietTicks)
	}
	busy() // premature again: ×4 more, bounded
	if at := quiet(maxQuietTicks + regretTicks); at != min(16*quietTicks, maxQuietTicks) {
		t.Fatalf("second back-off released at tick %d, want %d", at, min(16*quietTicks, maxQuietTicks))
	}
	busy() // that release held for regretTicks: the wait is back to quietTicks
	if at := quiet(quietTicks); at != quietTicks {
		t.Fatalf("after a release that held: released at tick %d, want %d", at, quietTicks)
	}
}

// TestReleaserReturnsMemory: after a burst of garbage and a quiet second, the free heap is
// returned to the operating system.
func TestReleaserReturnsMemory(t *testing.T) {
	r := StartReleaser()
	defer r.Stop()
	released := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	var before uint64
	// The runtime's background scavenger returns free pages too, at its own pace: on a
	// busy machine it can have returned a whole burst before the Releaser's quiet second
	// ends, leaving it nothing worth releasing (correctly). So a burst is tried up to
	// three times; one of them must be released by the Releaser.
	for attempt := 0; attempt < 3 && r.Releases() == 0; attempt++ {
		var keep [][]byte
		for range 64 {
			keep = append(keep, make([]byte, 1<<20))
		}
		runtime.KeepAlive(keep)
		runtime.GC() // the burst is garbage now, its pages free but resident
		metrics.Read(released)
		before = value(released[0])
		deadline := time.Now().Add(5 * time.Second)
		for r.Releases() == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if r.Releases() == 0 {
		t.Fatal("no release within 5 s of quiet after each of 3 bursts")
	}
	metrics.Read(released)
	if got := value(released[0]) - before; got < 16<<20 {
		t.Fatalf("released %d bytes more after the release, want most of the 64 MiB burst", got)
	}
}
