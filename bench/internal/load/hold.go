package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/bench/internal/proc"
)

// holdDialers is how many connections are opened at once in hold mode.
const holdDialers = 64

// holdIdle is how long the held connections stay idle before RSS is sampled: the figure
// is what an idle connection holds, not what the burst of opening them left behind (a
// collected runtime returns that once it is quiet).
const holdIdle = 2 * time.Second

// hold opens cfg.Conns mutual-TLS connections, completes one request on each (so the
// target has allocated everything a live keep-alive connection needs), and reports the
// target's RSS growth per held connection once they have been idle for holdIdle and RSS
// has settled.
func hold(ctx context.Context, cfg Config) (*Result, error) {
	if len(cfg.PIDs) == 0 {
		return nil, fmt.Errorf("load: hold mode needs target pids")
	}
	before, err := proc.RSSSum(cfg.PIDs)
	if err != nil {
		return nil, err
	}
	cpu0, _ := proc.CPUSum(cfg.PIDs)
	self0, _ := proc.CPU(os.Getpid())
	conns := make([]*tls.Conn, cfg.Conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	h2 := cfg.Mode == ModeHoldH2
	var next atomic.Int64
	var mu sync.Mutex
	errs := map[string]int64{}
	start := time.Now()
	var wg sync.WaitGroup
	for range holdDialers {
		wg.Go(func() {
			var body bytes.Buffer
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Conns || ctx.Err() != nil {
					return
				}
				t := cfg.Targets[i%len(cfg.Targets)]
				tc := t.TLS
				if h2 {
					tc = tc.Clone()
					tc.NextProtos = []string{"h2"}
				}
				c, k, _ := dial(ctx, t, tc, cfg.Timeout)
				if k == "" {
					if h2 {
						k = h2Once(c, t, cfg.Timeout)
					} else {
						k, _ = exchange(c, bufio.NewReaderSize(c, 4<<10), &body, request(t, false), t, cfg.Timeout, nil)
					}
					if k == "" {
						c.SetDeadline(time.Time{})
						conns[i] = c
						continue
					}
					c.Close()
				}
				mu.Lock()
				errs[k]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	opened := time.Since(start)
	held := 0
	for _, c := range conns {
		if c != nil {
			held++
		}
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(holdIdle):
	}
	after, err := settledRSS(ctx, cfg.PIDs)
	if err != nil {
		return nil, err
	}
	cpu1, _ := proc.CPUSum(cfg.PIDs)
	self1, _ := proc.CPU(os.Getpid())
	res := &Result{
		Mode: cfg.Mode, Conns: cfg.Conns, Seconds: opened.Seconds(), Errors: errs,
		Held: held, RSSBefore: before, RSSAfter: after, TargetRSS: after,
		TargetCPU: (cpu1 - cpu0).Seconds(), ClientCPU: (self1 - self0).Seconds(),
	}
	if held > 0 {
		res.BytesPerConn = float64(after-before) / float64(held)
	}
	select {
	case <-ctx.Done():
	case <-time.After(cfg.Linger):
	}
	return res, nil
}

// settledRSS polls RSS until three consecutive samples 200 ms apart agree within 1%, or
// 5 s pass; it returns the last sample.
func settledRSS(ctx context.Context, pids []int) (int64, error) {
	deadline := time.Now().Add(5 * time.Second)
	var last int64
	stable := 0
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		cur, err := proc.RSSSum(pids)
		if err != nil {
			return 0, err
		}
		if last > 0 && abs(cur-last)*100 <= last {
			stable++
		} else {
			stable = 0
		}
		last = cur
		if stable >= 2 || time.Now().After(deadline) {
			return cur, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
