package metrics

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HostObserver records the requests of one virtual host. The dataplane resolves one per
// virtual host when it builds a snapshot's state, so a request costs two atomic adds and
// no label hashing, lookups or allocations (WithLabelValues per request hashed the labels
// and formatted the status code every time).
//
// Series are still created on the first request that needs them, exactly as before: a
// configured virtual host without traffic exports nothing.
type HostObserver struct {
	m    *Metrics
	host string

	hist  atomic.Pointer[prometheus.Observer]
	mu    sync.Mutex                    // serializes additions to codes
	codes atomic.Pointer[[]codeCounter] // copy-on-write; a host sees few distinct codes
}

type codeCounter struct {
	code int
	c    prometheus.Counter
}

// VirtualHost returns the observer of the virtual host named vhost ("" for requests that
// matched none). It is created once and shared, safe for concurrent use.
func (m *Metrics) VirtualHost(vhost string) *HostObserver {
	if vhost == "" {
		vhost = noVirtualHost
	}
	m.hostsMu.Lock()
	defer m.hostsMu.Unlock()
	h := m.hosts[vhost]
	if h == nil {
		h = &HostObserver{m: m, host: vhost}
		m.hosts[vhost] = h
	}
	return h
}

// ForVirtualHost is VirtualHost as the dataplane's VirtualHostObserver wants it.
func (m *Metrics) ForVirtualHost(vhost string) interface {
	Observe(code int, d time.Duration)
} {
	return m.VirtualHost(vhost)
}

// Observe records one request with its final status code and duration.
func (h *HostObserver) Observe(code int, d time.Duration) {
	h.counter(code).Inc()
	h.histogram().Observe(d.Seconds())
}

func (h *HostObserver) histogram() prometheus.Observer {
	if p := h.hist.Load(); p != nil {
		return *p
	}
	o := h.m.duration.WithLabelValues(h.host)
	h.hist.Store(&o)
	return o
}

func (h *HostObserver) counter(code int) prometheus.Counter {
	if cs := h.codes.Load(); cs != nil {
		for _, c := range *cs {
			if c.code == code {
				return c.c
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var cur []codeCounter
	if cs := h.codes.Load(); cs != nil {
		cur = *cs
		for _, c := range cur {
			if c.code == code {
				return c.c
			}
		}
	}
	c := h.m.requests.WithLabelValues(h.host, strconv.Itoa(code))
	next := append(slices.Clone(cur), codeCounter{code: code, c: c})
	h.codes.Store(&next)
	return c
}
