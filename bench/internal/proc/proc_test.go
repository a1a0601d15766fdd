package proc

import (
	"os"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	// Burn CPU until the counter (10 ms resolution) moves, within a deadline.
	var c time.Duration
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if c, err = CPU(pid); err != nil || c > 0 {
			break
		}
	}
	if err != nil || c <= 0 {
		t.Fatalf("CPU(self) = %v, %v; want > 0", c, err)
	}
	r, err := RSS(pid)
	if err != nil || r < 1<<20 {
		t.Fatalf("RSS(self) = %d, %v; want >= 1 MiB", r, err)
	}
	if _, err := Children(pid); err != nil {
		t.Fatalf("Children(self): %v", err)
	}
	if _, err := CPU(-1); err == nil {
		t.Fatal("CPU(-1): want error")
	}
}

func TestCores(t *testing.T) {
	a, err := Cores()
	if err != nil || len(a.Busy) == 0 {
		t.Fatalf("Cores() = %+v, %v", a, err)
	}
	f := BusyFractions(a, a)
	if len(f) != len(a.Busy) || f[0] != 0 {
		t.Fatalf("BusyFractions(a, a) = %v", f)
	}
	if LoadAvg() < 0 {
		t.Fatal("negative load average")
	}
}

// TestCounters: sleeping blocks the thread (voluntary switches grow) and touching fresh
// memory faults pages in.
func TestCounters(t *testing.T) {
	pid := os.Getpid()
	a, err := Read(pid)
	if err != nil || a.Threads == 0 {
		t.Fatalf("Read(self) = %+v, %v", a, err)
	}
	for range 20 {
		time.Sleep(time.Millisecond)
	}
	buf := make([]byte, 8<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	b, err := ReadSum([]int{pid})
	if err != nil {
		t.Fatal(err)
	}
	d := b.Sub(a)
	if d.Voluntary < 10 || d.MinorFaults < 100 {
		t.Fatalf("after 20 sleeps and 8 MiB touched: %+v; want ≥ 10 voluntary switches and ≥ 100 faults", d)
	}
	if _, err := Read(-1); err == nil {
		t.Fatal("Read(-1): want error")
	}
}
