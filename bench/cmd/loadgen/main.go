// Command loadgen drives a mutual-TLS target and prints one JSON result (see
// bench/internal/load.Result): req/s, latency percentiles, errors by kind, and the target's
// CPU seconds from /proc (so CPU per request is exact).
//
//	loadgen -addr 127.0.0.1:8443 -pki ./pki -hosts frontend.foocorp.com,inventory.foocorp.com \
//	        -mode h1 -conns 64 -duration 10s -pids 1234
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/load"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "target address (must be on 127.0.0.0/8)")
	pkiDir := flag.String("pki", "./pki", "walkthrough PKI directory (client certs and CA chains)")
	hosts := flag.String("hosts", backend.FrontendHost+","+backend.InventoryHost, "comma-separated hosts (SNI = Host), connections round-robin")
	path := flag.String("path", "/", "request path")
	check := flag.Bool("check-body", true, "require the walkthrough body of each host")
	mode := flag.String("mode", load.ModeH1, "h1 | h2 | handshake | hold | hold-h2 | grpc (unary health Check calls: -conns connections × -streams in flight)")
	conns := flag.Int("conns", 64, "connections (handshake: concurrent handshakers; hold: connections held)")
	streams := flag.Int("streams", 8, "h2: concurrent streams per connection")
	warmup := flag.Duration("warmup", time.Second, "unmeasured traffic before the window")
	duration := flag.Duration("duration", 10*time.Second, "measured window (at most 20s)")
	requests := flag.Int64("requests", 0, "stop after this many requests (0 = duration only)")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	pids := flag.String("pids", "", "comma-separated target pids charged for CPU/RSS")
	auxPids := flag.String("aux-pids", "", "comma-separated helper pids on the generator's core (the backend), CPU reported")
	rate := flag.Float64("rate", 0, "h1/h2: open loop at this many requests per second (constant arrivals; latency from the intended send time); 0 = closed loop")
	burst := flag.Duration("burst", 0, "open loop: send for this long, then pause for -gap, repeatedly (intermittent load)")
	gap := flag.Duration("gap", 0, "open loop: idle gap between bursts")
	timeline := flag.String("timeline", "", "open loop: write one CSV line per measured request here (intended Unix ns, µs to written, µs to answered)")
	linger := flag.Duration("linger", 0, "hold: keep the connections open this long after measuring (at most 60s), to profile the target")
	flag.Parse()

	if *duration > 20*time.Second {
		fail(fmt.Errorf("-duration %v exceeds the 20s bound", *duration))
	}
	if *linger > time.Minute {
		fail(fmt.Errorf("-linger %v exceeds the 60s bound", *linger))
	}
	if !strings.HasPrefix(*addr, "127.") && !strings.HasPrefix(*addr, "localhost:") {
		fail(fmt.Errorf("-addr %s: traffic is only sent to 127.0.0.0/8", *addr))
	}
	cfg := load.Config{Mode: *mode, Conns: *conns, Streams: *streams, Warmup: *warmup,
		Duration: *duration, MaxRequests: *requests, Timeout: *timeout, Linger: *linger, Rate: *rate, Burst: *burst, Gap: *gap, Timeline: *timeline}
	cfg.PIDs = parsePIDs("-pids", *pids)
	cfg.AuxPIDs = parsePIDs("-aux-pids", *auxPids)
	for _, h := range strings.Split(*hosts, ",") {
		tc, err := load.PinnedClientTLS(*pkiDir, h)
		if err != nil {
			fail(err)
		}
		t := load.Target{Addr: *addr, Host: h, Path: *path, TLS: tc}
		if *check {
			t.Expect = backend.Body(h)
		}
		cfg.Targets = append(cfg.Targets, t)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := load.Run(ctx, cfg)
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fail(err)
	}
}

func parsePIDs(flagName, list string) []int {
	var out []int
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				fail(fmt.Errorf("%s: %w", flagName, err))
			}
			out = append(out, n)
		}
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}
