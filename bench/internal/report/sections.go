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
		{"KiB/idle h2 conn", "hold-h2", kib, true, 1, "(no target)"},
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
// load generator's core was, or other processes took either core.
func headroom(b *strings.Builder, r *Results) {
	b.WriteString("\n## Who was saturated\n\n")
	b.WriteString("Per case, as fractions of one core over the measured window: the target's own CPU; what else ran on core 0 (busy minus the target); the load generator's and the backend's CPU on core 1; what else ran on core 1 (busy minus both). \"Else\" includes kernel time not charged to a process (some loopback networking) and other sessions' processes. A target well below 1.0 while its core is full of something else was contended; a target below 1.0 with core 1 full of generator and backend was client-bound. Either way its CPU per request stays exact; its req/s and latency do not.\n\n")
	b.WriteString("| target | case | target | else on core 0 | generator + backend | else on core 1 | load avg |\n|---|---|---|---|---|---|---|\n")
	util := func(x *load.Result) float64 { return x.TargetUtil }
	la := func(x *load.Result) float64 { return x.LoadAvg }
	for _, t := range targets(r) {
		for _, k := range []string{"h1", "h2", "handshake"} {
			if r.Collect(t, k, util).N == 0 {
				continue
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", t, k, cell(r.Collect(t, k, util), 2),
				cell(r.Collect(t, k, else0), 2), cell(r.Collect(t, k, clientUtil), 2), cell(r.Collect(t, k, else1), 2), cell(r.Collect(t, k, la), 1))
		}
	}
}

// clientUtil is the generator's and the backend's CPU per wall second.
func clientUtil(x *load.Result) float64 {
	if x.Seconds == 0 {
		return 0
	}
	return (x.ClientCPU + x.AuxCPU) / x.Seconds
}

// else0 and else1 are what other than the measured processes kept cores 0 and 1 busy.
func else0(x *load.Result) float64 {
	if len(x.CoreBusy) < 1 {
		return 0
	}
	return max(0, x.CoreBusy[0]-x.TargetUtil)
}

func else1(x *load.Result) float64 {
	if len(x.CoreBusy) < 2 {
		return 0
	}
	return max(0, x.CoreBusy[1]-clientUtil(x))
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

// interference warns when other processes used the cores during the measured windows:
// throughput and latency are then depressed and CPU per request is inflated by cache and
// scheduler contention.
func interference(r *Results) string {
	var e0, e1, loads []float64
	for _, run := range r.Runs {
		x := run.Result
		if x == nil || run.Case == "hold" || run.Case == "hold-h2" || len(x.CoreBusy) < 2 {
			continue
		}
		e0 = append(e0, else0(x))
		e1 = append(e1, else1(x))
		loads = append(loads, x.LoadAvg)
	}
	s0, s1 := StatOf(e0), StatOf(e1)
	if s0.N == 0 || max(s0.Median, s1.Median) < 0.1 {
		return ""
	}
	return fmt.Sprintf("**Warning: the machine was not quiet.** Besides the measured processes, core 0 (the target's) was a median %.0f%% busy and core 1 (the load generator's) %.0f%% during the measured windows (1-minute load average %.1f; see \"Who was saturated\"). Req/s and latency are depressed and vary between rounds; CPU per request is exact for the work done but somewhat inflated by contention. Same-run ratios are indicative, absolute figures are not: re-run on an idle machine.\n",
		100*s0.Median, 100*s1.Median, StatOf(loads).Median)
}
