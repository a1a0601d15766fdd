package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/bench/internal/load"
)

// backendCases are the backends suite's cases and their headings.
var backendCases = []struct{ kase, title, unit, units string }{
	{"upstream-tls", "Upstream TLS, resumed (walkthrough h1 front, TLS to the backend)", "req", "req"},
	{"grpc", "gRPC unary through the gateway (TLS, ALPN h2 in; h2c to a grpc-go backend)", "call", "calls"},
}

// backendsTables renders the backends suite: per case, every target's median figures and
// the upstream's handshake counts (full and resumed, summed over rounds).
func backendsTables(b *strings.Builder, r *Results) {
	for _, bc := range backendCases {
		var ts []string
		for _, t := range targets(r) {
			for _, run := range r.Runs {
				if run.Target == t && run.Case == bc.kase {
					ts = append(ts, t)
					break
				}
			}
		}
		if len(ts) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n## %s\n\n", bc.title)
		b.WriteString("Each cell: median over rounds, (min–max) when there were several. Target CPU: its CPU seconds per second (1.00 = its core saturated); core 1: how busy the load generator's and upstream's core was (when it is full and the target's is not, the fixture bounded the rate and only CPU per " + bc.unit + " compares). Upstream handshakes: counted by the upstream, summed over rounds, warm-up included.\n\n")
		fmt.Fprintf(b, "| target | %s/s | p50 ms | p99 ms | CPU µs/%s | target CPU | core 1 busy | upstream handshakes full / resumed | %s per upstream handshake | failed runs |\n|---|---|---|---|---|---|---|---|---|---|\n", bc.units, bc.unit, bc.units)
		for _, t := range ts {
			var full, resumed, served int64
			var failed []string
			for _, run := range r.Runs {
				if run.Target != t || run.Case != bc.kase {
					continue
				}
				if run.Error != "" {
					failed = append(failed, fmt.Sprintf("round %d: %s", run.Round+1, strings.ReplaceAll(run.Error, "|", "/")))
				}
				if u := run.Upstream; u != nil {
					full, resumed, served = full+u.HandshakesFull, resumed+u.HandshakesResumed, served+u.Requests+u.GRPCCalls
				}
			}
			hs, per := "–", "–"
			if bc.kase == "upstream-tls" {
				hs = fmt.Sprintf("%s / %s", commas(full), commas(resumed))
				if full+resumed > 0 {
					per = fmt.Sprintf("%.0f", float64(served)/float64(full+resumed))
				}
			}
			fails := "–"
			if len(failed) > 0 {
				fails = "**" + strings.Join(failed, "; ") + "**"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t,
				cell(r.Collect(t, bc.kase, func(x *load.Result) float64 { return x.ReqPerSec }), 0),
				cell(r.Collect(t, bc.kase, func(x *load.Result) float64 { return x.Latency.P50 }), 2),
				cell(r.Collect(t, bc.kase, func(x *load.Result) float64 { return x.Latency.P99 }), 2),
				cell(r.Collect(t, bc.kase, func(x *load.Result) float64 { return x.CPUPerReq }), 1),
				cell(r.Collect(t, bc.kase, func(x *load.Result) float64 { return x.TargetUtil }), 2),
				cell(r.Collect(t, bc.kase, coreBusy(1)), 2), hs, per, fails)
		}
	}
	if len(r.PolicyBackends) == 0 {
		return
	}
	b.WriteString("\n## Probes of the backends suite (each target and case, before it is measured)\n\n")
	keys := make([]string, 0, len(r.PolicyBackends))
	for k := range r.PolicyBackends {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var probes []string
	want := map[string]string{}
	for _, k := range keys {
		for _, c := range r.PolicyBackends[k] {
			if _, ok := want[c.Name]; !ok {
				probes = append(probes, c.Name)
				want[c.Name] = c.Want
			}
		}
	}
	b.WriteString("| probe | want | " + strings.Join(keys, " | ") + " |\n|---|---|" + strings.Repeat("---|", len(keys)) + "\n")
	for _, p := range probes {
		fmt.Fprintf(b, "| %s | %s |", p, want[p])
		for _, k := range keys {
			got := "–"
			for _, c := range r.PolicyBackends[k] {
				if c.Name == p {
					got = mark(c)
				}
			}
			b.WriteString(" " + got + " |")
		}
		b.WriteString("\n")
	}
}

// coreBusy is the busy fraction of CPU i over a run's window (0 when not sampled).
func coreBusy(i int) func(*load.Result) float64 {
	return func(x *load.Result) float64 {
		if i < len(x.CoreBusy) {
			return x.CoreBusy[i]
		}
		return 0
	}
}
