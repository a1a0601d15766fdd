package load

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/bench/internal/proc"
)

// Modes of a run.
const (
	ModeH1        = "h1"        // HTTP/1.1 keep-alive, one request in flight per connection
	ModeH2        = "h2"        // HTTP/2, Streams requests in flight per connection
	ModeHandshake = "handshake" // new connection and full mTLS handshake per request
	ModeHold      = "hold"      // open Conns connections, one request each, hold, measure RSS
	ModeHoldH2    = "hold-h2"   // the same over HTTP/2 (ALPN h2)
)

// Target is one virtual host the generator talks to.
type Target struct {
	Addr   string      // dial address, e.g. 127.0.0.1:8443
	Host   string      // SNI and Host header
	Path   string      // request path, default "/"
	Expect string      // substring the body must contain ("" = any)
	TLS    *tls.Config // client certificate, RootCAs, ServerName (see ClientTLS)

	expect []byte // Expect, converted once
}

// Config of one run.
type Config struct {
	Mode        string
	Targets     []Target // connections are spread round-robin over targets
	Conns       int
	Streams     int           // h2 only: concurrent streams per connection
	Warmup      time.Duration // traffic before the measured window, not counted
	Duration    time.Duration // measured window (the run stops earlier at MaxRequests)
	MaxRequests int64         // 0 = unbounded (Duration bounds the run)
	Timeout     time.Duration // per request (and per dial+handshake)
	PIDs        []int         // target processes charged for CPU and RSS
	// AuxPIDs are helpers sharing the generator's core (the backend): their CPU is
	// reported so that what other processes took from that core can be told apart.
	AuxPIDs []int
	// Linger keeps hold mode's connections open this long after the measurement, so
	// that the target can be profiled while they are held.
	Linger time.Duration
	// Rate > 0 makes an h1 or h2 run open-loop: requests arrive at this constant rate
	// (per second) whatever the target does, and latency runs from each request's
	// intended send time (see openloop.go). 0 is the closed loop: every connection (h2:
	// stream) sends its next request as soon as the previous one is answered.
	Rate float64
	// Burst and Gap (open loop only) make the load intermittent: arrivals for Burst, then
	// none for Gap, and again — the pattern under which a runtime that returns memory
	// when idle pays page faults when the load comes back.
	Burst, Gap time.Duration
	// Timeline (open loop only), when set, names a file that receives one line per
	// measured request: its intended send time (Unix ns), and µs from then to when it was
	// written and to when its answer was complete — to line slow requests up with a
	// profile or runtime trace of the target. Bounded as the latency samples are.
	Timeline string
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999,omitempty"`
	Max  float64 `json:"max"`
}

// Result of one run; the JSON the loadgen command prints.
type Result struct {
	Mode       string           `json:"mode"`
	Conns      int              `json:"conns"`
	Streams    int              `json:"streams,omitempty"`
	Seconds    float64          `json:"seconds"`
	Requests   int64            `json:"requests"`
	ReqPerSec  float64          `json:"reqPerSec"`
	Latency    Latency          `json:"latencyMs"`
	Errors     map[string]int64 `json:"errors"`
	TargetCPU  float64          `json:"targetCpuSeconds"`
	CPUPerReq  float64          `json:"targetCpuMicrosPerRequest"`
	TargetUtil float64          `json:"targetCpuUtilization"` // CPU seconds / wall seconds
	ClientCPU  float64          `json:"clientCpuSeconds"`
	AuxCPU     float64          `json:"auxCpuSeconds,omitempty"` // backend CPU in the window
	TargetRSS  int64            `json:"targetRssBytes"`
	// CoreBusy is each CPU's busy fraction over the window (all processes): the target's
	// core busier than TargetUtil means something else ran there.
	CoreBusy []float64 `json:"coreBusy,omitempty"`
	LoadAvg  float64   `json:"loadAvg1m"` // at the end of the window
	// Per completed request over the window, summed over PIDs: the target's voluntary
	// context switches (a thread blocked and was woken), involuntary ones, and minor page
	// faults. Counts, unlike CPU time, do not grow when another process shares the core.
	WakeupsPerReq  float64 `json:"targetWakeupsPerRequest"`
	PreemptsPerReq float64 `json:"targetPreemptsPerRequest"`
	FaultsPerReq   float64 `json:"targetFaultsPerRequest"`
	TargetThreads  int     `json:"targetThreads,omitempty"`
	// Open loop (Config.Rate > 0).
	OfferedRate float64 `json:"offeredRate,omitempty"`
	// Dropped: arrivals the generator could not even queue (its backlog was full: the
	// target fell far behind). Backlog: arrivals still queued when the window closed.
	Dropped int64 `json:"dropped,omitempty"`
	Backlog int64 `json:"backlog,omitempty"`
	// SchedLagP99 is how late the generator's own scheduler issued arrivals (ms, p99):
	// the generator's share of the latency, the same for every target.
	SchedLagP99 float64 `json:"schedLagP99Ms,omitempty"`
	// Hold mode.
	Held         int     `json:"held,omitempty"`
	RSSBefore    int64   `json:"rssBeforeBytes,omitempty"`
	RSSAfter     int64   `json:"rssAfterBytes,omitempty"`
	BytesPerConn float64 `json:"bytesPerConn,omitempty"`
}

// run is the shared state of the workers of one run.
type run struct {
	cfg   Config
	phase atomic.Int32 // 0 warmup, 1 measuring, 2 done
	count atomic.Int64 // requests completed while measuring
	full  chan struct{}
	once  sync.Once
	stats []*workerStats
	mu    sync.Mutex

	// Open loop: the intended send times of requests not yet sent, what could not be
	// queued, and the scheduler's lateness samples (µs).
	arrivals chan time.Time
	dropped  atomic.Int64
	lag      []uint32
}

const (
	phaseWarmup = iota
	phaseMeasure
	phaseDone
)

// done reports whether workers should stop.
func (r *run) done() bool { return r.phase.Load() == phaseDone }

// ok records a completed request; workers call it after checking the response.
func (r *run) ok(ws *workerStats, start time.Time) { r.okSent(ws, start, time.Time{}) }

// okSent is ok for a request written at sent (zero: not known), kept in the timeline.
func (r *run) okSent(ws *workerStats, start, sent time.Time) {
	if r.phase.Load() != phaseMeasure {
		return
	}
	done := time.Now()
	ws.record(done.Sub(start))
	if r.cfg.Timeline != "" && len(ws.timeline) < maxSamples {
		ws.timeline = append(ws.timeline, timelineRec{at: start.UnixNano(),
			sent: int32(min(sent.Sub(start).Microseconds(), 1<<31-1)), done: int32(min(done.Sub(start).Microseconds(), 1<<31-1))})
	}
	if n := r.count.Add(1); r.cfg.MaxRequests > 0 && n >= r.cfg.MaxRequests {
		r.once.Do(func() { close(r.full) })
	}
}

// fail records an error of kind while measuring (warmup errors are not counted).
func (r *run) fail(ws *workerStats, kind string) {
	if r.phase.Load() == phaseMeasure {
		ws.errors[kind]++
	}
}

func (r *run) newStats() *workerStats {
	ws := &workerStats{errors: map[string]int64{}}
	r.mu.Lock()
	r.stats = append(r.stats, ws)
	r.mu.Unlock()
	return ws
}

// Run executes cfg and returns its result. It is bounded by Warmup+Duration plus the
// request timeout (and, in hold mode, by the time to open the connections).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if len(cfg.Targets) == 0 || cfg.Conns <= 0 {
		return nil, errors.New("load: need at least one target and one connection")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Streams <= 0 {
		cfg.Streams = 1
	}
	cfg.Targets = append([]Target(nil), cfg.Targets...)
	for i := range cfg.Targets {
		cfg.Targets[i].expect = []byte(cfg.Targets[i].Expect)
	}
	if cfg.Mode == ModeHold || cfg.Mode == ModeHoldH2 {
		return hold(ctx, cfg)
	}
	var worker func(ctx context.Context, r *run, t Target)
	switch {
	case cfg.Rate > 0 && cfg.Mode == ModeH1:
		worker = h1OpenWorker
	case cfg.Rate > 0 && cfg.Mode == ModeH2:
		worker = h2OpenWorker
	case cfg.Rate > 0:
		return nil, fmt.Errorf("load: -rate applies to h1 and h2, not %q", cfg.Mode)
	case cfg.Mode == ModeH1:
		worker = h1Worker
	case cfg.Mode == ModeHandshake:
		worker = handshakeWorker
	case cfg.Mode == ModeH2:
		worker = h2Worker
	case cfg.Mode == ModeGRPC:
		worker = grpcWorker
	default:
		return nil, fmt.Errorf("load: unknown mode %q", cfg.Mode)
	}
	r := &run{cfg: cfg, full: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if cfg.Rate > 0 {
		r.arrivals = make(chan time.Time, arrivalBacklog(cfg.Rate))
		wg.Go(func() { r.schedule(ctx) })
	}
	for i := 0; i < cfg.Conns; i++ {
		t := cfg.Targets[i%len(cfg.Targets)]
		wg.Go(func() { worker(ctx, r, t) })
	}
	if err := wait(ctx, cfg.Warmup, nil); err != nil {
		r.phase.Store(phaseDone)
		return nil, err
	}
	cpu0, err := proc.CPUSum(cfg.PIDs)
	if err != nil {
		return nil, fmt.Errorf("load: target cpu: %w", err)
	}
	self0, _ := proc.CPU(os.Getpid())
	aux0, _ := proc.CPUSum(cfg.AuxPIDs)
	cnt0, _ := proc.ReadSum(cfg.PIDs)
	cores0, _ := proc.Cores()
	t0 := time.Now()
	r.phase.Store(phaseMeasure)
	werr := wait(ctx, cfg.Duration, r.full)
	r.phase.Store(phaseDone)
	elapsed := time.Since(t0)
	cpu1, err := proc.CPUSum(cfg.PIDs)
	if err != nil {
		return nil, fmt.Errorf("load: target cpu: %w", err)
	}
	self1, _ := proc.CPU(os.Getpid())
	aux1, _ := proc.CPUSum(cfg.AuxPIDs)
	cnt1, _ := proc.ReadSum(cfg.PIDs)
	backlog := int64(0)
	if r.arrivals != nil {
		backlog = int64(len(r.arrivals))
	}
	cores1, _ := proc.Cores()
	rss, _ := proc.RSSSum(cfg.PIDs)
	cancel()
	wg.Wait()
	if werr != nil {
		return nil, werr
	}
	res := summarize(cfg, r.stats, elapsed)
	if cfg.Timeline != "" {
		if err := writeTimeline(cfg.Timeline, r.stats); err != nil {
			return nil, err
		}
	}
	res.TargetCPU = (cpu1 - cpu0).Seconds()
	res.ClientCPU = (self1 - self0).Seconds()
	res.AuxCPU = (aux1 - aux0).Seconds()
	res.TargetRSS = rss
	res.CoreBusy = proc.BusyFractions(cores0, cores1)
	res.LoadAvg = proc.LoadAvg()
	if res.Requests > 0 {
		res.CPUPerReq = res.TargetCPU * 1e6 / float64(res.Requests)
		d := cnt1.Sub(cnt0)
		n := float64(res.Requests)
		res.WakeupsPerReq, res.PreemptsPerReq, res.FaultsPerReq = float64(d.Voluntary)/n, float64(d.Involuntary)/n, float64(d.MinorFaults)/n
	}
	res.TargetThreads = cnt1.Threads
	if cfg.Rate > 0 {
		res.OfferedRate, res.Dropped, res.Backlog = cfg.Rate, r.dropped.Load(), backlog
		res.SchedLagP99 = r.lagP99()
	}
	res.TargetUtil = res.TargetCPU / elapsed.Seconds()
	return res, nil
}

// wait blocks for d, or until stop is closed or ctx ends (ctx's error is returned).
func wait(ctx context.Context, d time.Duration, stop <-chan struct{}) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
