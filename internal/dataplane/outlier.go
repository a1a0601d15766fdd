package dataplane

import (
	"net/http"

	"github.com/portcullis/portcullis/internal/dataplane/upstream"
)

// Load-balancing and outlier-detection glue (design 0021): what a picker may hash and
// what each attempt reports to its cluster.

// pickKey is what the pickers of r's clusters may hash.
func (d *Dataplane) pickKey(r *http.Request) upstream.Key {
	k := upstream.Key{R: r}
	if d.opts.Authz != nil {
		k.Hops = d.opts.Authz.TrustedHops()
	}
	return k
}

// reportAttempt ends an attempt on cl's endpoint ep with its outcome, from the response
// flag of a failure (flags.go) or the upstream's status: connect failures and resets are
// Envoy's LOCAL_ORIGIN_CONNECT_FAILED, timeouts LOCAL_ORIGIN_TIMEOUT; a client gone or an
// overflow count nothing.
func reportAttempt(cl *upstream.Cluster, ep string, flags ResponseFlags, code int) {
	switch {
	case flags&(FlagUpstreamConnectionFailure|FlagUpstreamRemoteReset) != 0:
		cl.Report(ep, 0, upstream.LocalConnectFailed)
	case flags&FlagUpstreamRequestTimeout != 0:
		cl.Report(ep, 0, upstream.LocalTimeout)
	case flags&(FlagDownstreamConnectionTermination|FlagUpstreamOverflow) != 0:
		cl.Report(ep, 0, upstream.LocalNone)
	default:
		cl.Report(ep, code, upstream.LocalNone)
	}
}

// outlierObserver is obs when it records outlier ejections (the metrics package), or nil.
func outlierObserver(obs Observer) upstream.OutlierObserver {
	o, _ := obs.(upstream.OutlierObserver)
	return o
}

// watchOutliers lets an observer that reports the ejected-endpoint gauge (the metrics
// package) read it from reg at scrape time.
func watchOutliers(obs Observer, reg *upstream.Registry) {
	if w, ok := obs.(interface {
		WatchOutliers(func() map[string]int)
	}); ok {
		w.WatchOutliers(reg.Ejected)
	}
}

// UpstreamHealth returns the clusters with endpoints ejected by outlier detection (for
// /config_dump).
func (d *Dataplane) UpstreamHealth() []upstream.ClusterHealth {
	if d == nil {
		return []upstream.ClusterHealth{}
	}
	return d.balancers.Health()
}

// l4Result is an L4 connect's outcome: Envoy's tcp_proxy reports connect failures and
// connections made.
func l4Result(err error) upstream.LocalResult {
	if err != nil {
		return upstream.LocalConnectFailed
	}
	return upstream.LocalConnected
}
