package upstream

import (
	"slices"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Cluster is the runtime of one snapshot.Cluster: its endpoints and a round-robin cursor,
// and, when its traffic policy asks for more than equal round robin (load-balancing
// policy, endpoint weights, outlier detection), its balancer (lb.go).
type Cluster struct {
	Name string
	// Spec is the snapshot's cluster, with its traffic policy (read-only).
	Spec      *snapshot.Cluster
	endpoints []string
	next      atomic.Uint64
	// Active requests and Retrying attempts in progress, for the retry budget (design 0013).
	Active, Retrying atomic.Int64
	// lb is nil for plain round robin over equal endpoints, which needs no other state.
	lb *balancer
	// Upstream TLS (clustertls.go): the shared state and the built configuration.
	tlsEnv *TLSEnv
	tlsCfg atomic.Pointer[clientTLS]
	// pool: the Proxy's pool of this cluster when Spec.Pool is set (pool.go), cached.
	pool atomic.Pointer[clusterPool]
}

// PickOther is Pick avoiding the endpoints in tried when it can: up to five picks, as
// Istio's previous-hosts retry predicate (host_selection_retry_max_attempts 5). Each pick
// it does not return is released.
func (c *Cluster) PickOther(k *Key, tried []string) (endpoint string, ok bool) {
	if k != nil {
		defer func() { k.attempt = 0 }()
	}
	for i := range 5 {
		if k != nil {
			k.attempt = uint32(i) // a hash policy moves along its ring or table, as Envoy
		}
		endpoint, ok = c.Pick(k)
		if !ok || !slices.Contains(tried, endpoint) || i == 4 {
			return endpoint, ok
		}
		c.Report(endpoint, 0, LocalNone)
	}
	return endpoint, ok
}

// Pick returns the endpoint for a request (k may be nil: no hash key): "ip:port", or
// "host:port" for DNS clusters, dialled by name so resolution happens at connect time. ok
// is false when there are no endpoints (or, with outlier detection, none is healthy).
// Every endpoint picked must be given back with Report once its attempt is over.
func (c *Cluster) Pick(k *Key) (endpoint string, ok bool) {
	if c == nil || len(c.endpoints) == 0 {
		return "", false
	}
	if c.lb != nil {
		return c.lb.pick(c, k)
	}
	n := c.next.Add(1) - 1
	return c.endpoints[n%uint64(len(c.endpoints))], true
}

// Clusters is an immutable name → Cluster index built per snapshot.
type Clusters struct {
	byName map[string]*Cluster
}

// NewClusters indexes the snapshot's clusters with fresh runtime state (a Registry of its
// own); a dataplane uses its Registry's Clusters to keep state across snapshots.
func NewClusters(cs []snapshot.Cluster) *Clusters { return NewRegistry(nil).Clusters(cs) }

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
