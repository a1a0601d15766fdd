package proc

import (
	"os"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	// Burn a little CPU so the counter is non-zero at 10 ms resolution.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	c, err := CPU(pid)
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
