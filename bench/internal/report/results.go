package report

import (
	"slices"
	"time"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/load"
	"github.com/portcullis/portcullis/bench/internal/policy"
)

// Run is one measured case of one target in one round.
type Run struct {
	Round  int    `json:"round"`
	Target string `json:"target"`
	Case   string `json:"case"` // h1, h2, handshake, hold, hold-h2; open loop: h1-rate, h2-rate, h1-burst
	// Percent is an open-loop run's offered load in percent of the best peer's saturated
	// req/s in the same run (Result.OfferedRate holds the rate itself).
	Percent int          `json:"percent,omitempty"`
	Result  *load.Result `json:"result,omitempty"`
	Error   string       `json:"error,omitempty"`
	// Upstream is what the backends suite's upstream counted during the case (warm-up
	// included): TLS handshakes full and resumed, requests, gRPC calls.
	Upstream *backend.Counts `json:"upstream,omitempty"`
}

// Scale is one configuration-scale run: Hosts hosts, each with its own certificate.
type Scale struct {
	Target       string       `json:"target"`
	Hosts        int          `json:"hosts"`
	ReadySeconds float64      `json:"readySeconds"` // process start -> last host answering
	RSSBytes     int64        `json:"rssBytes"`     // after ready
	Handshake    *load.Result `json:"handshake,omitempty"`
	H1           *load.Result `json:"h1,omitempty"`
	Error        string       `json:"error,omitempty"`
}

// Rotation is certificate-rotation latency: credential files replaced -> new serial served.
type Rotation struct {
	Target    string    `json:"target"`
	Method    string    `json:"method"`
	SamplesMs []float64 `json:"samplesMs"`
	P50       float64   `json:"p50Ms"`
	P99       float64   `json:"p99Ms"`
	Max       float64   `json:"maxMs"`
	Failures  int       `json:"failures"`
	Error     string    `json:"error,omitempty"`
}

// Results is everything one benchmark run produced.
type Results struct {
	Started  time.Time                `json:"started"`
	Finished time.Time                `json:"finished"`
	Quick    bool                     `json:"quick"`
	Machine  map[string]string        `json:"machine"`
	Settings map[string]any           `json:"settings"`
	Policy   map[string][]policy.Case `json:"policy"`
	// PolicyBackends: the probes of the backends suite, per "target case".
	PolicyBackends map[string][]policy.Case `json:"policyBackends,omitempty"`
	StartupS       map[string]float64       `json:"startupSeconds"`
	Runs           []Run                    `json:"runs"`
	Scale          []Scale                  `json:"scale,omitempty"`
	Rotation       []Rotation               `json:"rotation,omitempty"`
	Notes          []string                 `json:"notes,omitempty"`
	// Counts: system calls and scheduler events per request under perf, at fixed rates.
	Counts []Counts `json:"counts,omitempty"`
	// Profiles: "target case" -> the top of a CPU profile taken during the measured window.
	Profiles map[string]string `json:"profiles,omitempty"`
}

// Counts are perf's counts in a target's threads over one open-loop window, per request:
// "all syscalls", each system call by name ("read", "futex", ...), "context-switches",
// "cpu-migrations", "page-faults".
type Counts struct {
	Target     string             `json:"target"`
	Case       string             `json:"case"`
	Percent    int                `json:"percent"`
	Requests   float64            `json:"requests"`
	PerRequest map[string]float64 `json:"perRequest"`
}

// Stat is the median and range of one figure over rounds.
type Stat struct {
	Median, Min, Max float64
	N                int
}

// Collect returns the Stat of f over the successful runs of target and case.
func (r *Results) Collect(target, kase string, f func(*load.Result) float64) Stat {
	var xs []float64
	for _, run := range r.Runs {
		if run.Target == target && run.Case == kase && run.Result != nil && run.Error == "" {
			xs = append(xs, f(run.Result))
		}
	}
	return StatOf(xs)
}

// CollectAt is Collect over the open-loop runs of kase at percent.
func (r *Results) CollectAt(target, kase string, percent int, f func(*load.Result) float64) Stat {
	var xs []float64
	for _, run := range r.Runs {
		if run.Target == target && run.Case == kase && run.Percent == percent && run.Result != nil {
			xs = append(xs, f(run.Result))
		}
	}
	return StatOf(xs)
}

// StatOf computes median (mean of the middle two for even counts), min and max.
func StatOf(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Percentile of sorted-or-not samples (nearest rank).
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
