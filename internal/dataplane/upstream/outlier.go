package upstream

import (
	"sort"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Outlier detection as Envoy's consecutive-error detectors (design 0021): results are
// reported after each attempt; a threshold reached ejects the endpoint at once (within
// maxEjectionPercent); every interval a sweep returns endpoints whose ejection,
// baseEjectionTime × its back-off (capped at maxEjectionTime), is over, and lowers the
// back-off of endpoints healthy for a whole interval. The sweep runs lazily at the first
// pick or report after its tick, with the tick's time, so it needs no goroutine.

// LocalResult is a locally originated result of an attempt (Envoy's outlier Result).
type LocalResult uint8

const (
	// LocalNone: the attempt has an HTTP status (or nothing) to report.
	LocalNone LocalResult = iota
	// LocalConnectFailed: connect failure or reset (LOCAL_ORIGIN_CONNECT_FAILED; counted
	// as a 503 unless splitExternalLocalOriginErrors).
	LocalConnectFailed
	// LocalTimeout: the upstream did not answer in time (LOCAL_ORIGIN_TIMEOUT; a 504).
	LocalTimeout
	// LocalConnected: an L4 stream's connection was made
	// (LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL; a success).
	LocalConnected
)

// outlierRecord is an endpoint's outlier-detection state (guarded by clusterState.mu).
type outlierRecord struct {
	c5xx, cGateway, cLocal uint32
	backoff                uint32 // Envoy's ejectTimeBackoff
	ejections              uint32 // times ejected
	ejectedAt, returnedAt  time.Time
}

// report feeds one attempt's result to h's detectors.
func (st *clusterState) report(h *hostState, od *snapshot.OutlierDetection, code int, local LocalResult) {
	now := st.reg.now()
	st.sweep(now)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.hosts[h.addr] != h || st.od == nil {
		return // the endpoint (or detection) is gone since the pick
	}
	od = st.od
	if !od.SplitLocalOrigin {
		switch local {
		case LocalConnectFailed:
			code = 503
		case LocalTimeout:
			code = 504
		case LocalConnected:
			code = 200
		}
		st.putCode(h, od, code, now)
		return
	}
	switch local {
	case LocalConnectFailed, LocalTimeout:
		h.out.cLocal++
		if h.out.cLocal == od.ConsecutiveLocalOrigin {
			st.consecutive(h, od, &h.out.cLocal, now)
		}
		return
	case LocalConnected:
		code = 200
	}
	h.out.cLocal = 0 // connected: the local-origin run is over
	st.putCode(h, od, code, now)
}

// putCode is Envoy's putHttpResponseCode.
func (st *clusterState) putCode(h *hostState, od *snapshot.OutlierDetection, code int, now time.Time) {
	if code < 500 || code > 599 {
		h.out.c5xx, h.out.cGateway = 0, 0
		return
	}
	if code == 502 || code == 503 || code == 504 {
		h.out.cGateway++
		if h.out.cGateway == od.ConsecutiveGateway {
			st.consecutive(h, od, &h.out.cGateway, now)
		}
	} else {
		h.out.cGateway = 0
	}
	h.out.c5xx++
	if h.out.c5xx == od.Consecutive5xx {
		st.consecutive(h, od, &h.out.c5xx, now)
	}
}

// consecutive handles a threshold reached: eject unless already ejected, and restart the
// count (even when maxEjectionPercent kept the endpoint in).
func (st *clusterState) consecutive(h *hostState, od *snapshot.OutlierDetection, counter *uint32, now time.Time) {
	if h.ejected.Load() {
		return
	}
	st.eject(h, od, now)
	*counter = 0
}

// eject is Envoy's ejectHost: only while the ejected share, this one included, stays
// within maxEjectionPercent.
func (st *clusterState) eject(h *hostState, od *snapshot.OutlierDetection, now time.Time) {
	n := len(st.cur)
	if n == 0 || float64(st.ejected.Load()+1)*100 > float64(od.MaxEjectionPercent)*float64(n) {
		return
	}
	h.ejected.Store(true)
	st.ejected.Add(1)
	st.health.Add(1)
	h.out.ejections++
	h.out.ejectedAt = now
	base := time.Duration(od.BaseEjectionMillis) * time.Millisecond
	maxT := time.Duration(od.MaxEjectionMillis) * time.Millisecond
	if time.Duration(h.out.backoff)*base < maxT+base {
		h.out.backoff++
	}
	if st.reg.obs != nil {
		st.reg.obs.Ejected(st.name)
	}
}

// uneject returns h to service (caller holds mu).
func (st *clusterState) uneject(h *hostState, now time.Time) {
	h.ejected.Store(false)
	st.ejected.Add(-1)
	st.health.Add(1)
	h.out.c5xx, h.out.cGateway, h.out.cLocal = 0, 0, 0
	h.out.returnedAt = now
	if st.reg.obs != nil {
		st.reg.obs.Returned(st.name)
	}
}

// maxSweepTicks bounds the ticks one sweep replays after a long idle time; later ticks
// only lower back-offs, which is done in one step.
const maxSweepTicks = 64

// sweep runs the interval ticks due by now.
func (st *clusterState) sweep(now time.Time) {
	next := st.nextSweep.Load()
	if next != 0 && now.UnixNano() < next {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	od := st.od
	if od == nil || od.IntervalMillis <= 0 {
		return
	}
	interval := time.Duration(od.IntervalMillis) * time.Millisecond
	next = st.nextSweep.Load()
	if next == 0 { // the detector starts: first tick one interval from now
		st.nextSweep.Store(now.Add(interval).UnixNano())
		return
	}
	base := time.Duration(od.BaseEjectionMillis) * time.Millisecond
	maxT := time.Duration(od.MaxEjectionMillis) * time.Millisecond
	tick := time.Unix(0, next)
	for n := 0; !tick.After(now); n++ {
		if n == maxSweepTicks {
			skipped := uint32(now.Sub(tick)/interval) + 1
			for _, h := range st.cur {
				if !h.ejected.Load() && !h.out.returnedAt.IsZero() {
					h.out.backoff -= min(h.out.backoff, skipped)
				}
			}
			tick = tick.Add(time.Duration(skipped) * interval)
			break
		}
		for _, h := range st.cur {
			if h.ejected.Load() && min(base*time.Duration(h.out.backoff), maxT) <= tick.Sub(h.out.ejectedAt) {
				st.uneject(h, tick)
			}
		}
		for _, h := range st.cur {
			if !h.ejected.Load() && !h.out.returnedAt.IsZero() && tick.Sub(h.out.returnedAt) >= interval && h.out.backoff > 0 {
				h.out.backoff--
			}
		}
		tick = tick.Add(interval)
	}
	st.nextSweep.Store(tick.UnixNano())
}

// EndpointHealth is an ejected endpoint as /config_dump shows it.
type EndpointHealth struct {
	Endpoint  string    `json:"endpoint"`
	Ejections uint32    `json:"ejections"`
	EjectedAt time.Time `json:"ejectedAt"`
	// Until: the earliest the endpoint returns (at the first sweep from then on).
	Until time.Time `json:"until"`
}

// ClusterHealth is the outlier-detection state of a cluster with ejected endpoints.
type ClusterHealth struct {
	Cluster  string           `json:"cluster"`
	Ejected  []EndpointHealth `json:"ejected"`
	Healthy  int              `json:"healthy"`
	Total    int              `json:"total"`
	Panicked bool             `json:"panic,omitempty"`
}

// swept returns the registry's clusters after running their due sweeps.
func (reg *Registry) swept() []*clusterState {
	now := reg.now()
	reg.mu.Lock()
	sts := make([]*clusterState, 0, len(reg.clusters))
	for _, st := range reg.clusters {
		sts = append(sts, st)
	}
	reg.mu.Unlock()
	for _, st := range sts {
		st.sweep(now)
	}
	return sts
}

// Ejected returns the number of endpoints ejected now per cluster with outlier detection
// (0 included), after running due sweeps.
func (reg *Registry) Ejected() map[string]int {
	out := map[string]int{}
	for _, st := range reg.swept() {
		st.mu.Lock()
		if st.od != nil {
			out[st.name] = int(st.ejected.Load())
		}
		st.mu.Unlock()
	}
	return out
}

// Health returns the clusters with ejected endpoints, by name, after running due sweeps.
func (reg *Registry) Health() []ClusterHealth {
	out := []ClusterHealth{}
	for _, st := range reg.swept() {
		st.mu.Lock()
		if od := st.od; od != nil && st.ejected.Load() > 0 {
			ch := ClusterHealth{Cluster: st.name, Total: len(st.cur)}
			base := time.Duration(od.BaseEjectionMillis) * time.Millisecond
			maxT := time.Duration(od.MaxEjectionMillis) * time.Millisecond
			for _, h := range st.cur {
				if !h.ejected.Load() {
					ch.Healthy++
					continue
				}
				ch.Ejected = append(ch.Ejected, EndpointHealth{Endpoint: h.addr, Ejections: h.out.ejections,
					EjectedAt: h.out.ejectedAt, Until: h.out.ejectedAt.Add(min(base*time.Duration(h.out.backoff), maxT))})
			}
			ch.Panicked = od.MinHealthPercent > 0 && ch.Healthy*100 < od.MinHealthPercent*ch.Total
			out = append(out, ch)
		}
		st.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out
}
