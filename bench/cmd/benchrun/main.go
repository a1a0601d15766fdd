// Command benchrun is the benchmark harness of issue 5: it installs nginx and HAProxy if
// missing, builds the load generator, the backend and portcullis, generates the
// walkthrough's PKI, checks every target's policy, measures portcullis, nginx, HAProxy and
// the direct Go floor side by side in interleaved rounds, then idle memory per connection,
// configuration scale and certificate rotation, and writes bench/results/*.json and
// docs/performance.md. `-suites backends` (not in the default set) measures upstream TLS
// with resumption and gRPC unary calls beside nginx and HAProxy (backends.go).
//
//	go run ./bench/cmd/benchrun            # full run (about 15 minutes)
//	go run ./bench/cmd/benchrun -quick     # smoke test (about 2 minutes)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/bench/internal/report"
)

type options struct {
	quick                     bool
	rounds                    int
	duration, warmup          time.Duration
	targets, suites           []string
	out, resultsDir, work     string
	keep, noInstall, profile  bool
	h1Conns, h2Conns, streams int
	hsConns, hold             int
	scale                     []int
	rotations                 int
	pool, nice                int
	baselines                 []baseline    // prebuilt portcullis binaries measured as extra targets
	throughputCases           []string      // throughput suite cases: h1, h2, handshake
	upConnRequests            int           // backends suite: upstream TLS connection closed after this many requests
	grpcConns, grpcStreams    int           // backends suite: gRPC connections and calls in flight on each
	percents                  []int         // open-loop offered loads, % of the best peer's saturated req/s
	rateDuration              time.Duration // measured window per open-loop rate
	countPercents             []int         // offered loads of the perf-counted windows (round 0)
	rateCases                 []string      // open-loop cases run: h1, h2, burst
}

func main() {
	var o options
	var targets, suites, scale, percents, counted, rateCases, baselines, tputCases string
	flag.BoolVar(&o.quick, "quick", false, "smoke test: 1 round, 2 s per case, small hold and scale")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured window per case (≤ 20s)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up per case")
	flag.StringVar(&targets, "targets", "portcullis,nginx,haproxy,direct", "targets to measure")
	flag.StringVar(&suites, "suites", "throughput,rate,hold,scale,rotation", "suites to run (rate: open loop at fixed fractions of the best peer's saturated req/s)")
	flag.StringVar(&percents, "rates", "10,25,50,75,90", "rate suite: offered loads in percent of the best peer's saturated req/s")
	flag.StringVar(&counted, "count-rates", "25,75", "rate suite: offered loads (percent) of extra round-1 windows with perf counting each target's system calls and context switches (\"\" = none)")
	flag.StringVar(&rateCases, "rate-cases", "h1,h2,burst", "rate suite: open-loop cases to run (h1, h2, burst: h1 with idle gaps)")
	flag.DurationVar(&o.rateDuration, "rate-duration", 5*time.Second, "rate suite: measured window per rate (≤ 20s)")
	flag.StringVar(&o.out, "out", "docs/performance.md", "markdown report")
	flag.StringVar(&o.resultsDir, "results", "bench/results", "directory for raw JSON")
	flag.StringVar(&o.work, "work", "", "scratch directory (default: a new temp dir, removed at the end)")
	flag.BoolVar(&o.keep, "keep", false, "keep the scratch directory")
	flag.BoolVar(&o.profile, "profile", true, "take a CPU profile of portcullis (--pprof) during round 1's h1, h2 and handshake windows")
	flag.BoolVar(&o.noInstall, "no-install", false, "do not apt-get install missing peers")
	flag.IntVar(&o.h1Conns, "h1-conns", 64, "HTTP/1.1 keep-alive connections")
	flag.IntVar(&o.h2Conns, "h2-conns", 8, "HTTP/2 connections")
	flag.IntVar(&o.streams, "h2-streams", 8, "HTTP/2 concurrent streams per connection")
	flag.IntVar(&o.hsConns, "handshake-conns", 16, "concurrent handshakers")
	flag.IntVar(&o.hold, "hold", 5000, "idle mutual-TLS connections held for the memory figure")
	flag.StringVar(&scale, "scale", "1000,10000", "host counts for the configuration-scale suite")
	flag.IntVar(&o.rotations, "rotations", 20, "certificate rotations measured")
	flag.IntVar(&o.pool, "pool", 64, "upstream idle keep-alive pool size, the same for every proxy")
	flag.IntVar(&o.nice, "nice", 0, "run targets, backend and loadgen at this nice level (e.g. -10 on a shared machine; root only)")
	flag.StringVar(&baselines, "baseline", "", "prebuilt portcullis binaries (e.g. of earlier commits) measured in the same run for before/after ratios: BIN (target \"baseline\") or NAME=BIN,NAME=BIN (targets NAME)")
	flag.StringVar(&tputCases, "throughput-cases", "h1,h2,handshake", "throughput suite: cases run (h1, h2, handshake)")
	flag.IntVar(&o.upConnRequests, "upstream-conn-requests", 100, "backends suite: the TLS upstream closes a connection after this many requests, so every target keeps making (resumed) upstream handshakes")
	flag.IntVar(&o.grpcConns, "grpc-conns", 4, "backends suite: gRPC client connections (HTTP/2, TLS)")
	flag.IntVar(&o.grpcStreams, "grpc-streams", 16, "backends suite: gRPC unary calls in flight per connection")
	render := flag.String("render", "", "only re-render -out from this raw results JSON (no measurement)")
	flag.Parse()
	if *render != "" {
		if err := rerender(*render, o.out); err != nil {
			fatal(err)
		}
		return
	}
	o.targets = split(targets)
	o.throughputCases = split(tputCases)
	var err error
	if o.baselines, err = parseBaselines(baselines); err != nil {
		fatal(err)
	}
	for _, bl := range o.baselines {
		if !has(o.targets, bl.name) {
			o.targets = append(o.targets, bl.name)
		}
	}
	o.suites = split(suites)
	for _, s := range split(scale) {
		n, err := strconv.Atoi(s)
		if err != nil {
			fatal(fmt.Errorf("-scale: %w", err))
		}
		o.scale = append(o.scale, n)
	}
	o.percents, o.countPercents = percentList("-rates", percents), percentList("-count-rates", counted)
	o.rateCases = strings.Split(rateCases, ",")
	if o.quick {
		// A smoke test must not overwrite the published figures: unless told otherwise it
		// reports into a scratch directory.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		dir := filepath.Join(os.TempDir(), "portcullis-bench-quick")
		if !set["out"] {
			o.out = filepath.Join(dir, "performance.md")
		}
		if !set["results"] {
			o.resultsDir = dir
		}
		o.rounds, o.duration, o.warmup = 1, 2*time.Second, 300*time.Millisecond
		o.rateDuration = min(o.rateDuration, 2*time.Second)
		o.hold, o.rotations = min(o.hold, 500), min(o.rotations, 5)
		o.scale = []int{100, 1000}
	}
	if o.duration > 20*time.Second || o.rateDuration > 20*time.Second {
		fatal(fmt.Errorf("-duration %v / -rate-duration %v exceeds 20s", o.duration, o.rateDuration))
	}
	// Every run is bounded: the whole harness gets at most 75 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fatal(err)
	}
}

// baseline is a prebuilt portcullis binary measured as target name.
type baseline struct{ name, bin string }

// parseBaselines reads -baseline: "BIN" (target "baseline", the original form) or
// "NAME=BIN,NAME=BIN".
func parseBaselines(list string) ([]baseline, error) {
	var out []baseline
	for _, item := range split(list) {
		name, bin, ok := strings.Cut(item, "=")
		if !ok {
			name, bin = "baseline", item
		}
		if name == "" || bin == "" || slices.Contains([]string{"portcullis", "nginx", "haproxy", "direct"}, name) {
			return nil, fmt.Errorf("-baseline: %q is not BIN or NAME=BIN with a new target NAME", item)
		}
		for _, b := range out {
			if b.name == name {
				return nil, fmt.Errorf("-baseline: target %q given twice", name)
			}
		}
		out = append(out, baseline{name, bin})
	}
	return out, nil
}

// percentList parses a comma-separated list of percentages in 1..100.
func percentList(name, list string) []int {
	var out []int
	for _, s := range split(list) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 100 {
			fatal(fmt.Errorf("%s: %q is not a percentage in 1..100", name, s))
		}
		out = append(out, n)
	}
	return out
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func has(list []string, x string) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s benchrun: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchrun:", err)
	os.Exit(1)
}

// rerender rewrites the markdown report from saved raw results, keeping the findings.
func rerender(jsonPath, out string) error {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var res report.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", jsonPath, err)
	}
	if err := writePlot(out, &res); err != nil {
		return err
	}
	return writeMarkdown(out, report.Markdown(&res, jsonPath))
}

// writePlot writes the open-loop plot next to the markdown report out (nothing when the
// run has no open-loop results).
func writePlot(out string, res *report.Results) error {
	svg := report.Plot(res)
	if svg == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(filepath.Dir(out), report.PlotName), []byte(svg), 0o644)
}

// writeMarkdown writes md to out, carrying over the hand-written findings of the file
// it replaces.
func writeMarkdown(out, md string) error {
	if old, err := os.ReadFile(out); err == nil {
		if block := report.Findings(string(old)); block != "" {
			md = report.WithFindings(md, block)
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, []byte(md), 0o644)
}

// stamp names the files of one run.
func stamp(res *report.Results) string {
	name := res.Started.UTC().Format("20060102-150405")
	if res.Quick {
		name += "-quick"
	}
	return name
}

// write saves the raw JSON and the markdown report.
func write(o options, res *report.Results) error {
	if err := os.MkdirAll(o.resultsDir, 0o755); err != nil {
		return err
	}
	name := stamp(res)
	jsonPath := filepath.Join(o.resultsDir, name+".json")
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s and %s", jsonPath, o.out)
	if err := writePlot(o.out, res); err != nil {
		return err
	}
	return writeMarkdown(o.out, report.Markdown(res, jsonPath))
}
