package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/bench/internal/load"
)

// RateCases are the open-loop cases at fixed offered loads, with their titles.
var RateCases = []struct{ Case, Title string }{
	{"h1-rate", "HTTP/1.1, 64 keep-alive connections"},
	{"h2-rate", "HTTP/2, 8 connections × 8 streams"},
}

// PlotName is the file the rate plot is written to, next to the markdown report.
const PlotName = "performance-load.svg"

func p50(r *load.Result) float64     { return r.Latency.P50 }
func p999(r *load.Result) float64    { return r.Latency.P999 }
func wakeups(r *load.Result) float64 { return r.WakeupsPerReq }
func faults(r *load.Result) float64  { return r.FaultsPerReq }
func offered(r *load.Result) float64 { return r.OfferedRate }

// percents lists the offered loads measured for kase, ascending.
func (r *Results) percents(kase string) []int {
	var out []int
	for _, run := range r.Runs {
		if run.Case == kase && run.Result != nil && !slices.Contains(out, run.Percent) {
			out = append(out, run.Percent)
		}
	}
	slices.Sort(out)
	return out
}

// rateTables renders the open-loop section: per case and offered load, each target's CPU
// per request, latency percentiles and wake-ups per request, then portcullis's ratios to
// the best peer at each load, then the intermittent-load case.
func rateTables(b *strings.Builder, r *Results) {
	if len(r.percents("h1-rate"))+len(r.percents("h2-rate")) == 0 {
		return
	}
	b.WriteString("\n## Below saturation: open loop at fixed offered loads\n\n")
	b.WriteString("Requests arrive at a constant rate (a percentage of the best peer's saturated req/s measured above, in the same run) whatever the target does; a request waits for a free connection (h2: stream) when none is, and its latency runs from its intended send time, so queueing is counted (no coordinated omission). Each target is started fresh once per round and runs every rate; rounds are interleaved. CPU per request is the target's own process CPU time over the window; wake-ups per request are its threads' voluntary context switches (each a block in epoll_wait/futex/read followed by a wake-up), a count that does not grow when another process shares the core. Cells: median over rounds (min–max).\n\n")
	fmt.Fprintf(b, "![CPU per request and p99 latency against offered load](%s)\n", PlotName)
	ts := targets(r)
	for _, rc := range RateCases {
		ps := r.percents(rc.Case)
		if len(ps) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n### %s\n\n", rc.Title)
		b.WriteString("| load | req/s offered | target | CPU µs/req | p50 ms | p99 ms | p999 ms | wake-ups/req | CPU util |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, p := range ps {
			for _, t := range ts {
				if r.CollectAt(t, rc.Case, p, cpu).N == 0 {
					continue
				}
				fmt.Fprintf(b, "| %d %% | %s | %s | %s | %s | %s | %s | %s | %s |\n", p, num(r.CollectAt(t, rc.Case, p, offered).Median, 0), t,
					cell(r.CollectAt(t, rc.Case, p, cpu), 1), cell(r.CollectAt(t, rc.Case, p, p50), 2), cell(r.CollectAt(t, rc.Case, p, p99), 2),
					cell(r.CollectAt(t, rc.Case, p, p999), 2), cell(r.CollectAt(t, rc.Case, p, wakeups), 2),
					cell(r.CollectAt(t, rc.Case, p, func(x *load.Result) float64 { return x.TargetUtil }), 2))
			}
		}
		rateRatios(b, r, rc.Case, ps)
	}
	burstTable(b, r)
}

// rateRatios compares portcullis with the best peer at each offered load.
func rateRatios(b *strings.Builder, r *Results, kase string, ps []int) {
	if r.CollectAt("portcullis", kase, ps[0], cpu).N == 0 {
		return
	}
	b.WriteString("\nportcullis against the best peer at each load (medians; CPU target ≤ 1.0× from 25 % to 90 %, aim 0.85×; p99 ≤ 1.0×):\n\n")
	b.WriteString("| load | CPU µs/req | best peer | ratio | p99 ms | best peer | ratio | wake-ups/req | best peer |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range ps {
		pc, pp, pw := r.CollectAt("portcullis", kase, p, cpu), r.CollectAt("portcullis", kase, p, p99), r.CollectAt("portcullis", kase, p, wakeups)
		bc, wc := bestAt(r, kase, p, cpu)
		bp, wp := bestAt(r, kase, p, p99)
		bw, ww := bestAt(r, kase, p, wakeups)
		if pc.N == 0 || wc == "" {
			continue
		}
		fmt.Fprintf(b, "| %d %% | %.1f | %.1f (%s) | %.2f× | %.2f | %.2f (%s) | %.2f× | %.2f | %.2f (%s) |\n",
			p, pc.Median, bc, wc, ratio(pc.Median, bc), pp.Median, bp, wp, ratio(pp.Median, bp), pw.Median, bw, ww)
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// bestAt is the lower median of nginx and HAProxy for f at an offered load.
func bestAt(r *Results, kase string, p int, f func(*load.Result) float64) (float64, string) {
	best, who := 0.0, ""
	for _, t := range []string{"nginx", "haproxy"} {
		if s := r.CollectAt(t, kase, p, f); s.N > 0 && (who == "" || s.Median < best) {
			best, who = s.Median, t
		}
	}
	return best, who
}

func burstTable(b *strings.Builder, r *Results) {
	ps := r.percents("h1-burst")
	if len(ps) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Intermittent load (HTTP/1.1 at %d %% for 1 s, then 2 s idle, three times)\n\n", ps[0])
	b.WriteString("Minor page faults per request show whether memory returned to the operating system during the gaps is faulted back in when the load returns.\n\n")
	b.WriteString("| target | CPU µs/req | p50 ms | p99 ms | p999 ms | wake-ups/req | page faults/req |\n|---|---|---|---|---|---|---|\n")
	for _, t := range targets(r) {
		if r.CollectAt(t, "h1-burst", ps[0], cpu).N == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", t, cell(r.CollectAt(t, "h1-burst", ps[0], cpu), 1),
			cell(r.CollectAt(t, "h1-burst", ps[0], p50), 2), cell(r.CollectAt(t, "h1-burst", ps[0], p99), 2),
			cell(r.CollectAt(t, "h1-burst", ps[0], p999), 2), cell(r.CollectAt(t, "h1-burst", ps[0], wakeups), 2),
			cell(r.CollectAt(t, "h1-burst", ps[0], faults), 3))
	}
}
