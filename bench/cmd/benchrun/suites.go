package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/bench/internal/load"
	"github.com/portcullis/portcullis/bench/internal/report"
)

// loadArgs describe one loadgen invocation.
type loadArgs struct {
	mode           string
	conns, streams int
	hosts          []string
	pkiDir         string
	pids           []int
	duration       time.Duration
	rate           float64       // open loop when > 0
	burst, gap     time.Duration // intermittent open loop
	aux            int           // helper pid on the generator's core (default: the backend)
}

// loadgen runs the load generator pinned to core 1 and parses its JSON result.
func (b *bench) loadgen(ctx context.Context, a loadArgs) (*load.Result, error) {
	pids := make([]string, len(a.pids))
	for i, p := range a.pids {
		pids[i] = strconv.Itoa(p)
	}
	if a.duration == 0 {
		a.duration = b.o.duration
	}
	args := []string{filepath.Join(b.bin, "loadgen"), "-addr", listenAddr, "-pki", a.pkiDir,
		"-hosts", strings.Join(a.hosts, ","), "-mode", a.mode, "-conns", strconv.Itoa(a.conns),
		"-streams", strconv.Itoa(max(a.streams, 1)), "-warmup", b.o.warmup.String(), "-duration", a.duration.String(),
		"-pids", strings.Join(pids, ","), "-aux-pids", strconv.Itoa(cmp.Or(a.aux, b.backendPID))}
	if a.rate > 0 {
		args = append(args, "-rate", strconv.FormatFloat(a.rate, 'f', 0, 64), "-burst", a.burst.String(), "-gap", a.gap.String())
	}
	ctx, cancel := context.WithTimeout(ctx, b.o.warmup+a.duration+2*time.Minute)
	defer cancel()
	argv := pinned("1", b.o.nice, args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("loadgen %s: %v: %s", a.mode, err, tail([]byte(stderr.String())))
	}
	var res load.Result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("loadgen %s output: %w", a.mode, err)
	}
	return &res, nil
}

// throughput runs the interleaved rounds: in each, every target is started fresh and
// measured in each mode, then started fresh again for the idle-memory hold.
func (b *bench) throughput(ctx context.Context) {
	ts := b.available()
	var cases []string
	if has(b.o.suites, "throughput") {
		cases = b.o.throughputCases
	}
	for round := 0; round < b.o.rounds && ctx.Err() == nil; round++ {
		for i := range ts {
			t := ts[(i+round)%len(ts)]
			if len(cases) > 0 {
				b.measure(ctx, round, t, cases)
			}
			if has(b.o.suites, "hold") {
				b.measure(ctx, round, t, []string{load.ModeHold})
				b.measure(ctx, round, t, []string{load.ModeHoldH2})
			}
		}
	}
}

func (b *bench) measure(ctx context.Context, round int, t string, cases []string) {
	r, err := b.startTarget(ctx, t, b.layout(t, b.hosts, b.pkiDir, walkthroughUpstream), "", b.hosts[0], 30*time.Second)
	if err != nil {
		for _, c := range cases {
			b.res.Runs = append(b.res.Runs, report.Run{Round: round, Target: t, Case: c, Error: err.Error()})
		}
		return
	}
	defer r.stop()
	for _, c := range cases {
		a := loadArgs{mode: c, hosts: b.hosts, pkiDir: b.pkiDir, pids: r.pids}
		switch c {
		case load.ModeH1:
			a.conns = b.o.h1Conns
		case load.ModeH2:
			a.conns, a.streams = b.o.h2Conns, b.o.streams
		case load.ModeHandshake:
			a.conns = b.o.hsConns
		case load.ModeHold, load.ModeHoldH2:
			a.conns = b.o.hold
		}
		var prof chan string
		if b.o.profile && t == "portcullis" && round == 0 && c != load.ModeHold && c != load.ModeHoldH2 {
			prof = make(chan string, 1)
			go func() {
				top, err := b.profile(ctx, c)
				if err != nil {
					top = "profile failed: " + err.Error()
				}
				prof <- top
			}()
		}
		res, err := b.loadgen(ctx, a)
		if prof != nil {
			if b.res.Profiles == nil {
				b.res.Profiles = map[string]string{}
			}
			b.res.Profiles["portcullis "+c] = <-prof
		}
		run := report.Run{Round: round, Target: t, Case: c, Result: res}
		if err != nil {
			run.Error = err.Error()
			logf("round %d %s %s: %v", round, t, c, err)
		} else if c == load.ModeHold || c == load.ModeHoldH2 {
			logf("round %d %s %s: %d held, %.1f KiB/conn", round, t, c, res.Held, res.BytesPerConn/1024)
		} else {
			logf("round %d %s %s: %.0f req/s, p99 %.2f ms, %.1f µs CPU/req, util %.2f, errors %v",
				round, t, c, res.ReqPerSec, res.Latency.P99, res.CPUPerReq, res.TargetUtil, res.Errors)
		}
		b.res.Runs = append(b.res.Runs, run)
	}
}

// httpGet is a readiness check for the plain-HTTP backend.
func httpGet(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := (&http.Client{Timeout: time.Second}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}
