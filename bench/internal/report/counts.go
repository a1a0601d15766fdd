package report

import (
	"fmt"
	"slices"
	"strings"
)

// countRows are shown first in the counts tables; the system calls follow, by count.
var countRows = []string{"all syscalls", "context-switches", "cpu-migrations", "page-faults"}

// countsTables renders perf's per-request counts: one table per case and offered load,
// a row per event, a column per target.
func countsTables(b *strings.Builder, r *Results) {
	if len(r.Counts) == 0 {
		return
	}
	b.WriteString("\n## System calls and wake-ups per request (perf, fixed offered load)\n\n")
	b.WriteString("`perf stat` counting tracepoints in the target's threads over one open-loop window of the first round (counts divided by the requests of the window). Counts per request do not depend on how fast the machine is or what else runs on it: they are the structural cost. context-switches: a thread of the target blocked (epoll_wait, futex, read) and was later woken, or was preempted.\n")
	type key struct {
		kase    string
		percent int
	}
	var keys []key
	for _, c := range r.Counts {
		if k := (key{c.Case, c.Percent}); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.kase != b.kase {
			return strings.Compare(a.kase, b.kase)
		}
		return a.percent - b.percent
	})
	for _, k := range keys {
		var ts []string
		per := map[string]map[string]float64{}
		for _, c := range r.Counts {
			if c.Case == k.kase && c.Percent == k.percent {
				ts = append(ts, c.Target)
				per[c.Target] = c.PerRequest
			}
		}
		ts = ordered(ts)
		// Syscalls by their largest count over the targets; the small ones are left out.
		top := map[string]float64{}
		for _, m := range per {
			for name, v := range m {
				if !slices.Contains(countRows, name) && v >= 0.01 {
					top[name] = max(top[name], v)
				}
			}
		}
		names := make([]string, 0, len(top))
		for n := range top {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			if top[a] != top[b] {
				if top[a] > top[b] {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		fmt.Fprintf(b, "\n%s at %d %% of the best peer's saturated req/s:\n\n| per request |", k.kase, k.percent)
		for _, t := range ts {
			b.WriteString(" " + t + " |")
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(ts)) + "\n")
		for _, name := range append(slices.Clone(countRows), names...) {
			fmt.Fprintf(b, "| %s |", name)
			for _, t := range ts {
				fmt.Fprintf(b, " %.2f |", per[t][name])
			}
			b.WriteString("\n")
		}
	}
}

// ordered sorts target names in table order.
func ordered(ts []string) []string {
	var out []string
	for _, t := range order {
		if slices.Contains(ts, t) {
			out = append(out, t)
		}
	}
	for _, t := range ts {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
