package upstream

import (
	"slices"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Cluster is the runtime of one snapshot.Cluster: its endpoints and a round-robin cursor.
type Cluster struct {
	Name string
	// Spec is the snapshot's cluster, with its traffic policy (read-only).
	Spec      *snapshot.Cluster
	endpoints []string
	next      atomic.Uint64
	// Active requests and Retrying attempts in progress, for the retry budget (design 0013).
	Active, Retrying atomic.Int64
	// pool: the Proxy's pool of this cluster when Spec.Pool is set (pool.go), cached.
	pool atomic.Pointer[clusterPool]
}

// PickOther is Pick avoiding the endpoints in tried when it can: up to five picks, as
// Istio's previous-hosts retry predicate (host_selection_retry_max_attempts 5).
func (c *Cluster) PickOther(tried []string) (endpoint string, ok bool) {
	for range 5 {
		endpoint, ok = c.Pick()
		if !ok || !slices.Contains(tried, endpoint) {
			return endpoint, ok
		}
	}
	return endpoint, ok
}

// Pick returns the next endpoint ("ip:port", or "host:port" for DNS clusters, dialled by
// name so resolution happens at connect time). ok is false when there are no endpoints.
func (c *Cluster) Pick() (endpoint string, ok bool) {
	if c == nil || len(c.endpoints) == 0 {
		return "", false
	}
	n := c.next.Add(1) - 1
	return c.endpoints[n%uint64(len(c.endpoints))], true
}

// Clusters is an immutable name → Cluster index built per snapshot.
type Clusters struct {
	byName map[string]*Cluster
}

// NewClusters indexes the snapshot's clusters.
func NewClusters(cs []snapshot.Cluster) *Clusters {
	m := make(map[string]*Cluster, len(cs))
	for i := range cs {
		c := &cs[i]
		m[c.Name] = &Cluster{Name: c.Name, Spec: c, endpoints: c.Endpoints}
	}
	return &Clusters{byName: m}
}

// Get returns the named cluster, or nil.
func (cs *Clusters) Get(name string) *Cluster {
	if cs == nil {
		return nil
	}
	return cs.byName[name]
}

// Endpoints returns the cluster's endpoints (shared: do not modify), nil for a nil cluster.
func (c *Cluster) Endpoints() []string {
	if c == nil {
		return nil
	}
	return c.endpoints
}
