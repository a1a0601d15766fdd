package main

import (
	"context"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/bench/internal/load"
	"github.com/portcullis/portcullis/bench/internal/report"
)

// Open-loop cases: constant arrival rate at a fraction of the best peer's saturated
// throughput, and the same with idle gaps (bursts).
const (
	caseH1Rate  = "h1-rate"
	caseH2Rate  = "h2-rate"
	caseH1Burst = "h1-burst"
)

// burstPercent, burstOn and burstGap shape the intermittent case: half load for one
// second, then two idle seconds (long enough for a quiet-memory release to happen).
const (
	burstPercent = 50
	burstOn      = time.Second
	burstGap     = 2 * time.Second
)

// rateSuite measures every target open-loop at each of o.percents of the best peer's
// saturated req/s, for h1 and h2, in interleaved rounds (each target started fresh once
// per round). The saturated figures come from the throughput suite of the same run; when
// it did not run, one saturated h1 and h2 window per target is measured first.
func (b *bench) rateSuite(ctx context.Context) {
	ts := b.available()
	peak := map[string]float64{}
	for _, c := range []string{load.ModeH1, load.ModeH2} {
		if !has(b.o.rateCases, c) && (c != load.ModeH1 || !has(b.o.rateCases, "burst")) {
			continue // not asked for (-rate-cases): no saturated window either
		}
		if peak[c] = b.bestPeer(c); peak[c] == 0 {
			for _, t := range ts {
				b.measure(ctx, 0, t, []string{c})
			}
			peak[c] = b.bestPeer(c)
		}
		if peak[c] == 0 {
			b.note(fmt.Sprintf("open loop %s: no saturated req/s of nginx or HAProxy to scale the rates by; skipped", c))
		}
		logf("open loop %s: best peer saturated at %.0f req/s", c, peak[c])
	}
	b.res.Settings["ratePercents"] = b.o.percents
	b.res.Settings["rateDuration"] = b.o.rateDuration.String()
	for round := 0; round < b.o.rounds && ctx.Err() == nil; round++ {
		for i := range ts {
			b.rateOne(ctx, round, ts[(i+round)%len(ts)], peak)
		}
	}
}

// bestPeer is the higher of nginx's and HAProxy's median saturated req/s for kase.
func (b *bench) bestPeer(kase string) float64 {
	best := 0.0
	for _, t := range []string{"nginx", "haproxy"} {
		best = max(best, b.res.Collect(t, kase, func(r *load.Result) float64 { return r.ReqPerSec }).Median)
	}
	return best
}

// rateWindow is one open-loop window of a round.
type rateWindow struct {
	kase    string
	percent int
	a       loadArgs
}

// rateOne starts t once and runs its open-loop windows for one round; in round 0 it then
// runs the counted windows (perf attached, see perfstat.go).
func (b *bench) rateOne(ctx context.Context, round int, t string, peak map[string]float64) {
	r, err := b.startTarget(ctx, t, b.layout(t, b.hosts, b.pkiDir, walkthroughUpstream), "", b.hosts[0], 30*time.Second)
	if err != nil {
		b.res.Runs = append(b.res.Runs, report.Run{Round: round, Target: t, Case: caseH1Rate, Error: err.Error()})
		return
	}
	defer r.stop()
	windows := func(percents []int) []rateWindow {
		var ws []rateWindow
		for _, c := range []struct{ kase, mode string }{{caseH1Rate, load.ModeH1}, {caseH2Rate, load.ModeH2}} {
			if peak[c.mode] == 0 || !has(b.o.rateCases, c.mode) {
				continue
			}
			for _, p := range percents {
				a := loadArgs{mode: c.mode, hosts: b.hosts, pkiDir: b.pkiDir, pids: r.pids, duration: b.o.rateDuration,
					rate: peak[c.mode] * float64(p) / 100}
				if c.mode == load.ModeH1 {
					a.conns = b.o.h1Conns
				} else {
					a.conns, a.streams = b.o.h2Conns, b.o.streams
				}
				ws = append(ws, rateWindow{c.kase, p, a})
			}
		}
		return ws
	}
	ws := windows(b.o.percents)
	if peak[load.ModeH1] > 0 && has(b.o.rateCases, "burst") {
		// Three bursts and their gaps in the window.
		ws = append(ws, rateWindow{caseH1Burst, burstPercent, loadArgs{mode: load.ModeH1, conns: b.o.h1Conns, hosts: b.hosts,
			pkiDir: b.pkiDir, pids: r.pids, duration: 3 * (burstOn + burstGap), rate: peak[load.ModeH1] * burstPercent / 100,
			burst: burstOn, gap: burstGap}})
	}
	for _, w := range ws {
		if ctx.Err() != nil {
			return
		}
		res, err := b.loadgen(ctx, w.a)
		run := report.Run{Round: round, Target: t, Case: w.kase, Percent: w.percent, Result: res}
		if err != nil {
			run.Error = err.Error()
			logf("round %d %s %s %d%%: %v", round, t, w.kase, w.percent, err)
		} else {
			logf("round %d %s %s %d%% (%.0f/s): %.0f req/s, p50 %.2f p99 %.2f p999 %.2f ms, %.1f µs CPU/req, %.2f wake-ups/req, %.3f faults/req, errors %v",
				round, t, w.kase, w.percent, w.a.rate, res.ReqPerSec, res.Latency.P50, res.Latency.P99, res.Latency.P999,
				res.CPUPerReq, res.WakeupsPerReq, res.FaultsPerReq, res.Errors)
		}
		b.res.Runs = append(b.res.Runs, run)
	}
	if round == 0 && len(b.o.countPercents) > 0 {
		b.countWindows(ctx, t, r.pids, windows(b.o.countPercents))
	}
}
