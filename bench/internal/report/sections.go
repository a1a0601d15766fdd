package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/bench/internal/load"
)

// ratios compares portcullis with the best of nginx and HAProxy on each figure (medians),
// against the targets.
func ratios(b *strings.Builder, r *Results) {
	if len(targets(r)) == 0 || r.Collect("portcullis", "h1", rps).N == 0 {
		return
	}
	b.WriteString("\n## portcullis against the best of nginx and HAProxy (same run, medians)\n\n")
	b.WriteString("| figure | portcullis | best peer | ratio | target |\n|---|---|---|---|---|\n")
	type row struct {
		name, kase string
		f          func(*load.Result) float64
		lower      bool // lower is better
		prec       int
		target     string
	}
	rows := []row{
		{"h1 CPU µs/req", "h1", cpu, true, 1, "≤ 1.0 (aim 0.85)"},
		{"h1 req/s", "h1", rps, false, 0, "≥ 1.0"},
		{"h1 p99 ms", "h1", p99, true, 2, "≤ 1.0"},
		{"h2 CPU µs/req", "h2", cpu, true, 1, "≤ 1.0"},
		{"h2 req/s", "h2", rps, false, 0, "≥ 1.0"},
		{"h2 p99 ms", "h2", p99, true, 2, "≤ 1.0"},
		{"CPU µs/handshake", "handshake", cpu, true, 0, "≤ 0.5"},
		{"KiB/idle conn", "hold", kib, true, 1, "≤ 16 KiB absolute"},
	}
	for _, rw := range rows {
		p := r.Collect("portcullis", rw.kase, rw.f)
		best, who := 0.0, ""
		for _, t := range []string{"nginx", "haproxy"} {
			s := r.Collect(t, rw.kase, rw.f)
			if s.N == 0 {
				continue
			}
			if who == "" || (rw.lower && s.Median < best) || (!rw.lower && s.Median > best) {
				best, who = s.Median, t
			}
		}
		if p.N == 0 || who == "" || best == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s (%s) | %.2f× | %s |\n", rw.name, num(p.Median, rw.prec), num(best, rw.prec), who, p.Median/best, rw.target)
	}
	if d := r.Collect("direct", "h1", cpu); d.N > 0 {
		fmt.Fprintf(b, "\nThe Go floor (the direct server answering by itself) spends %.1f µs/req on h1 and %.0f µs/handshake.\n",
			d.Median, r.Collect("direct", "handshake", cpu).Median)
	}
}

func rps(r *load.Result) float64 { return r.ReqPerSec }
func cpu(r *load.Result) float64 { return r.CPUPerReq }
func p99(r *load.Result) float64 { return r.Latency.P99 }
func kib(r *load.Result) float64 { return r.BytesPerConn / 1024 }

// headroom shows whether the target core was the bottleneck (utilization near 1.0), the
// load generator's core was, or other processes took the target's core.
func headroom(b *strings.Builder, r *Results) {
	b.WriteString("\n## Who was saturated\n\n")
	b.WriteString("Per case: the target's CPU utilization (its CPU seconds / wall seconds), how busy core 0 (the target's) and core 1 (load generator + backend) were in total, and the 1-minute load average. Core 0 busier than the target means other processes ran there; a target below 1.0 with core 1 near 1.0 was client-bound: its req/s then says more about the client than about it, while its CPU per request stays exact.\n\n")
	b.WriteString("| target | case | target util | core 0 busy | core 1 busy | load avg |\n|---|---|---|---|---|---|\n")
	util := func(x *load.Result) float64 { return x.TargetUtil }
	core := func(i int) func(*load.Result) float64 {
		return func(x *load.Result) float64 {
			if i < len(x.CoreBusy) {
				return x.CoreBusy[i]
			}
			return 0
		}
	}
	la := func(x *load.Result) float64 { return x.LoadAvg }
	for _, t := range targets(r) {
		for _, k := range []string{"h1", "h2", "handshake"} {
			if r.Collect(t, k, util).N == 0 {
				continue
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", t, k, cell(r.Collect(t, k, util), 2),
				cell(r.Collect(t, k, core(0)), 2), cell(r.Collect(t, k, core(1)), 2), cell(r.Collect(t, k, la), 1))
		}
	}
}

func errorsTable(b *strings.Builder, r *Results) {
	var lines []string
	for _, run := range r.Runs {
		if run.Error != "" {
			lines = append(lines, fmt.Sprintf("| %s | %s | %d | run failed: %s |", run.Target, run.Case, run.Round, strings.ReplaceAll(run.Error, "|", "/")))
			continue
		}
		if run.Result == nil || len(run.Result.Errors) == 0 {
			continue
		}
		var kinds []string
		for k, v := range run.Result.Errors {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(kinds)
		lines = append(lines, fmt.Sprintf("| %s | %s | %d | %s |", run.Target, run.Case, run.Round, strings.Join(kinds, ", ")))
	}
	b.WriteString("\n## Errors\n\n")
	if len(lines) == 0 {
		b.WriteString("None: every measured request got 200 and the expected body.\n")
		return
	}
	b.WriteString("| target | case | round | errors by kind |\n|---|---|---|---|\n" + strings.Join(lines, "\n") + "\n")
}

func scaleTable(b *strings.Builder, r *Results) {
	if len(r.Scale) == 0 {
		return
	}
	b.WriteString("\n## Configuration scale (N hosts on one port, each its own certificate and client CA)\n\n")
	b.WriteString("Ready = process start until the last configured host answers 200. Handshake and h1 runs spread over 16 hosts sampled across the table.\n\n")
	b.WriteString("| target | hosts | ready s | RSS MiB | CPU µs/handshake | handshakes/s | h1 CPU µs/req | h1 req/s | note |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Scale {
		hs, h1 := "–", "–"
		hsr, h1r := "–", "–"
		if s.Handshake != nil {
			hs, hsr = num(s.Handshake.CPUPerReq, 0), num(s.Handshake.ReqPerSec, 0)
		}
		if s.H1 != nil {
			h1, h1r = num(s.H1.CPUPerReq, 1), num(s.H1.ReqPerSec, 0)
		}
		fmt.Fprintf(b, "| %s | %s | %.2f | %.0f | %s | %s | %s | %s | %s |\n", s.Target, commas(int64(s.Hosts)), s.ReadySeconds,
			float64(s.RSSBytes)/(1<<20), hs, hsr, h1, h1r, strings.ReplaceAll(s.Error, "|", "/"))
	}
}

func rotationTable(b *strings.Builder, r *Results) {
	if len(r.Rotation) == 0 {
		return
	}
	b.WriteString("\n## Certificate rotation (credential files replaced → new serial served to a new handshake)\n\n")
	b.WriteString("| target | method | samples | p50 ms | p99 ms | max ms | failures | note |\n|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Rotation {
		fmt.Fprintf(b, "| %s | %s | %d | %.1f | %.1f | %.1f | %d | %s |\n", x.Target, x.Method, len(x.SamplesMs), x.P50, x.P99, x.Max, x.Failures, x.Error)
	}
}

// interference warns when other processes used the target's core during the measured
// windows (core 0 busier than the target itself): throughput and latency are then
// depressed and CPU per request is inflated by cache and scheduler contention.
func interference(r *Results) string {
	var gaps, loads []float64
	for _, run := range r.Runs {
		x := run.Result
		if x == nil || run.Case == "hold" || len(x.CoreBusy) < 2 {
			continue
		}
		gaps = append(gaps, x.CoreBusy[0]-x.TargetUtil)
		loads = append(loads, x.LoadAvg)
	}
	g := StatOf(gaps)
	if g.N == 0 || g.Median < 0.1 {
		return ""
	}
	return fmt.Sprintf("**Warning: the machine was not quiet.** Other processes used a median %.0f%% of the target's core during the measured windows (1-minute load average %.1f; see \"Who was saturated\"). Req/s and latency are depressed and CPU per request is inflated by contention; ratios between targets measured in the same run remain indicative, absolute figures do not. Re-run on an idle machine.\n",
		100*g.Median, StatOf(loads).Median)
}
