package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/bench/internal/report"
)

// perfEvents are counted in the target's threads while it serves a fixed rate: every
// system call by name, all system calls, context switches (each a thread blocking and
// later woken), CPU migrations and page faults. Counting tracepoints in the kernel costs a
// few tens of nanoseconds per event (unlike strace, which stops the target at each call).
var perfEvents = []string{"syscalls:sys_enter_*", "raw_syscalls:sys_enter", "context-switches", "cpu-migrations", "page-faults"}

// perfStat counts perfEvents in pids for d, starting after delay (the loadgen's warm-up),
// and returns the counts by event ("syscalls:sys_enter_read" is reported as "read").
func perfStat(ctx context.Context, pids []int, delay, d time.Duration) (map[string]float64, error) {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	ps := make([]string, len(pids))
	for i, p := range pids {
		ps[i] = strconv.Itoa(p)
	}
	args := []string{"stat", "-x", ",", "-p", strings.Join(ps, ",")}
	for _, e := range perfEvents {
		args = append(args, "-e", e)
	}
	args = append(args, "--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "perf", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // perf stat writes its counts to stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("perf stat: %v: %s", err, tail(stderr.Bytes()))
	}
	return parsePerf(stderr.String()), nil
}

// parsePerf reads `perf stat -x,` output: count,unit,event,... per line; zero and
// "<not counted>" lines are left out.
func parsePerf(out string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		n, err := strconv.ParseFloat(f[0], 64)
		if err != nil || n == 0 {
			continue
		}
		name := strings.TrimPrefix(f[2], "syscalls:sys_enter_")
		if name == "raw_syscalls:sys_enter" {
			name = "all syscalls"
		}
		m[name] += n
	}
	return m
}

// countWindows runs, for target t (round 0 only), an open-loop window per case at each of
// o.countPercents with perf counting the target's system calls and context switches,
// and records them per request.
func (b *bench) countWindows(ctx context.Context, t string, pids []int, ws []rateWindow) {
	if _, err := exec.LookPath("perf"); err != nil {
		b.note("perf not found: no system-call counts")
		return
	}
	for _, w := range ws {
		if ctx.Err() != nil {
			return
		}
		counts := make(chan map[string]float64, 1)
		var perr error
		go func() {
			m, err := perfStat(ctx, pids, b.o.warmup, w.a.duration)
			perr = err
			counts <- m
		}()
		res, err := b.loadgen(ctx, w.a)
		m := <-counts
		if err != nil || perr != nil || res.ReqPerSec == 0 {
			b.note(fmt.Sprintf("%s %s %d%% counted window: loadgen %v, perf %v", t, w.kase, w.percent, err, perr))
			continue
		}
		reqs := res.ReqPerSec * w.a.duration.Seconds()
		per := map[string]float64{}
		for k, v := range m {
			per[k] = v / reqs
		}
		b.res.Counts = append(b.res.Counts, report.Counts{Target: t, Case: w.kase, Percent: w.percent, Requests: reqs, PerRequest: per})
		logf("%s %s %d%%: %.2f syscalls/req, %.2f context switches/req, %.2f futex/req", t, w.kase, w.percent,
			per["all syscalls"], per["context-switches"], per["futex"])
	}
}
