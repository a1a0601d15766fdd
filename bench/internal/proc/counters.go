package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Counters are a process's cumulative scheduler and memory events: robust per-request
// evidence where CPU time is noisy (another process on the core inflates CPU time, not
// the number of times the target slept or faulted).
type Counters struct {
	// Voluntary context switches of all its threads: each is a thread blocking (in
	// epoll_wait, futex, read) and later being woken — a wake-up.
	Voluntary int64
	// Involuntary context switches: a runnable thread preempted.
	Involuntary int64
	// MinorFaults of the whole process (pages mapped in, e.g. after memory was returned).
	MinorFaults int64
	// Threads alive when sampled.
	Threads int
}

// Sub returns c - o.
func (c Counters) Sub(o Counters) Counters {
	return Counters{Voluntary: c.Voluntary - o.Voluntary, Involuntary: c.Involuntary - o.Involuntary,
		MinorFaults: c.MinorFaults - o.MinorFaults, Threads: c.Threads}
}

// Read samples pid's counters: context switches summed over /proc/PID/task/*/status (a
// thread that exited in between takes its count with it; Go keeps its threads), minor
// faults from /proc/PID/stat (which includes exited threads).
func Read(pid int) (Counters, error) {
	var c Counters
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return c, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // exited meanwhile
		}
		c.Threads++
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				c.Voluntary += n
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				c.Involuntary += n
			}
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return c, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After comm: f[0] is field 3 (state); minflt is field 10.
	if len(f) < 8 {
		return c, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	c.MinorFaults, _ = strconv.ParseInt(f[7], 10, 64)
	return c, nil
}

// ReadSum is Read summed over pids.
func ReadSum(pids []int) (Counters, error) {
	var sum Counters
	for _, p := range pids {
		c, err := Read(p)
		if err != nil {
			return sum, err
		}
		sum.Voluntary += c.Voluntary
		sum.Involuntary += c.Involuntary
		sum.MinorFaults += c.MinorFaults
		sum.Threads += c.Threads
	}
	return sum, nil
}
