package translate

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Connection pool (issue 12 item 3): trafficPolicy.connectionPool of the merged policy
// becomes Cluster.Pool, read by HTTP and L4 destinations alike, as Istio's cluster builder
// (applyConnectionPool) fills Envoy's circuit breakers, connect timeout, TCP keep-alive and
// common HTTP protocol options.

// defaultHTTPIdleTimeout is Envoy's idle_timeout of upstream HTTP connections when neither
// http.idleTimeout nor tcp.idleTimeout is given.
const defaultHTTPIdleTimeout = time.Hour

// poolPolicy sets rc.cluster.Pool from rc.policy. Every connectionPool of the cluster's
// DestinationRule is checked once (on the rule, with its field path, as Istio's
// validation); a rule with an invalid one fails its routes closed.
func (t *translator) poolPolicy(rc *resolvedCluster) {
	cp := rc.policy.GetConnectionPool()
	if cp == nil || rc.fail != "" {
		return
	}
	if why := t.checkPools(rc.policyRule); why != "" {
		rc.fail = why
		return
	}
	rc.cluster.Pool = connectionPool(cp)
}

// checkPools validates every connectionPool of dr (top level, port level, subsets and
// their port level) and reports the problems on dr. It returns the reason routes to the
// rule's host fail, "" when all are valid.
func (t *translator) checkPools(dr *resources.DestinationRule) string {
	key := "connectionPool " + nsName(&dr.Meta)
	if why, done := t.rejected[key]; done {
		return why
	}
	var f findings
	each := func(base string, tp *networking.TrafficPolicy) {
		checkPool(&f, base+".connectionPool", tp.GetConnectionPool())
		for i, p := range tp.GetPortLevelSettings() {
			checkPool(&f, fmt.Sprintf("%s.portLevelSettings[%d].connectionPool", base, i), p.GetConnectionPool())
		}
	}
	each("spec.trafficPolicy", dr.Spec.GetTrafficPolicy())
	for i, ss := range dr.Spec.GetSubsets() {
		each(fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), ss.GetTrafficPolicy())
	}
	return t.ruleFindings(key, dr, f)
}

// ruleFindings reports the errors f found in dr's policy (each failing the routes to the
// rule's host) and remembers under key the reason routes fail ("" when f is empty).
func (t *translator) ruleFindings(key string, dr *resources.DestinationRule, f findings) string {
	t.rejected[key] = ""
	if len(f) > 0 {
		t.rejected[key] = fmt.Sprintf("DestinationRule %s %s: %s", nsName(&dr.Meta), f[0].field, f[0].msg)
		for k := range f {
			f[k].msg += "; routes to its host fail closed (500)"
		}
		t.report(kindDestinationRule, &dr.Meta, f)
	}
	return t.rejected[key]
}

// checkPool reports what Istio's validation rejects in cp, and what Envoy cannot apply
// (keep-alive times are whole seconds).
func checkPool(f *findings, base string, cp *networking.ConnectionPoolSettings) {
	if cp == nil {
		return
	}
	if h := cp.Http; h != nil {
		for _, c := range []struct {
			name string
			v    int32
		}{{"http1MaxPendingRequests", h.Http1MaxPendingRequests}, {"http2MaxRequests", h.Http2MaxRequests},
			{"maxRequestsPerConnection", h.MaxRequestsPerConnection}, {"maxRetries", h.MaxRetries}} {
			if c.v < 0 {
				f.errorf(base+".http."+c.name, "%s %d is negative", c.name, c.v)
			}
		}
		poolDuration(f, base+".http.idleTimeout", h.IdleTimeout, false)
		if h.MaxConcurrentStreams < 0 {
			f.errorf(base+".http.maxConcurrentStreams", "maxConcurrentStreams %d is negative", h.MaxConcurrentStreams)
		}
		if ka := h.Http2KeepAlive; ka != nil {
			for _, c := range []struct {
				name string
				d    *durationpb.Duration
			}{{"interval", ka.Interval}, {"timeout", ka.Timeout}} {
				if c.d == nil {
					f.errorf(base+".http.http2KeepAlive."+c.name, "http2KeepAlive %s is required", c.name)
				}
				poolDuration(f, base+".http.http2KeepAlive."+c.name, c.d, false)
			}
		}
	}
	if tcp := cp.Tcp; tcp != nil {
		if tcp.MaxConnections < 0 {
			f.errorf(base+".tcp.maxConnections", "maxConnections %d is negative", tcp.MaxConnections)
		}
		poolDuration(f, base+".tcp.connectTimeout", tcp.ConnectTimeout, false)
		poolDuration(f, base+".tcp.maxConnectionDuration", tcp.MaxConnectionDuration, false)
		poolDuration(f, base+".tcp.idleTimeout", tcp.IdleTimeout, true)
		if ka := tcp.TcpKeepalive; ka != nil {
			for _, c := range []struct {
				name string
				d    *durationpb.Duration
			}{{"time", ka.Time}, {"interval", ka.Interval}} {
				if poolDuration(f, base+".tcp.tcpKeepalive."+c.name, c.d, false) && c.d.AsDuration() < time.Second {
					f.errorf(base+".tcp.tcpKeepalive."+c.name, "%s %s is shorter than 1s (the socket option takes whole seconds)", c.name, c.d.AsDuration())
				}
			}
		}
	}
}

// poolDuration checks d as Istio's ValidateDuration (valid, millisecond precision, at
// least 1ms); zero passes when zeroOK (0s disables). It reports whether d is set and valid.
func poolDuration(f *findings, field string, d *durationpb.Duration, zeroOK bool) bool {
	if d == nil {
		return false
	}
	v := d.AsDuration()
	switch {
	case d.CheckValid() != nil || v < 0:
		f.errorf(field, "invalid duration %s", v)
	case v == 0 && zeroOK:
		return true
	case v%time.Millisecond != 0:
		f.errorf(field, "duration %s is not a whole number of milliseconds", v)
	case v < time.Millisecond:
		f.errorf(field, "duration %s is shorter than 1ms", v)
	default:
		return true
	}
	return false
}

// connectionPool converts a valid connectionPool as Istio's applyConnectionPool: limits
// of 0 are unset; the HTTP idle timeout is http.idleTimeout, else tcp.idleTimeout.
func connectionPool(cp *networking.ConnectionPoolSettings) *snapshot.ConnectionPool {
	p := &snapshot.ConnectionPool{
		ConnectTimeoutMillis: defaultConnectTimeout.Milliseconds(),
		IdleTimeoutMillis:    defaultHTTPIdleTimeout.Milliseconds(),
		TCPIdleTimeoutMillis: defaultTCPIdleTimeout.Milliseconds(),
	}
	var idle *durationpb.Duration
	if h := cp.Http; h != nil {
		p.MaxPendingRequests = uint32(max(h.Http1MaxPendingRequests, 0))
		p.MaxRequests = uint32(max(h.Http2MaxRequests, 0))
		p.MaxRequestsPerConnection = uint32(max(h.MaxRequestsPerConnection, 0))
		p.MaxRetries = uint32(max(h.MaxRetries, 0))
		p.MaxConcurrentStreams = uint32(max(h.MaxConcurrentStreams, 0))
		if ka := h.Http2KeepAlive; ka != nil {
			p.H2Keepalive = &snapshot.H2Keepalive{IntervalMillis: ka.Interval.AsDuration().Milliseconds(), TimeoutMillis: ka.Timeout.AsDuration().Milliseconds()}
		}
		idle = h.IdleTimeout
	}
	if tcp := cp.Tcp; tcp != nil {
		p.MaxConnections = uint32(max(tcp.MaxConnections, 0))
		if d := tcp.ConnectTimeout; d != nil {
			p.ConnectTimeoutMillis = d.AsDuration().Milliseconds()
		}
		if d := tcp.MaxConnectionDuration; d != nil {
			p.MaxConnectionDurationMillis = d.AsDuration().Milliseconds()
		}
		if d := tcp.IdleTimeout; d != nil {
			p.TCPIdleTimeoutMillis = d.AsDuration().Milliseconds() // 0 disables, as in Envoy
			if idle == nil {
				idle = d
			}
		}
		if ka := tcp.TcpKeepalive; ka != nil {
			p.Keepalive = &snapshot.TCPKeepalive{
				Probes:          ka.Probes,
				TimeSeconds:     uint32(min(ka.Time.AsDuration()/time.Second, math.MaxUint32)),
				IntervalSeconds: uint32(min(ka.Interval.AsDuration()/time.Second, math.MaxUint32)),
			}
		}
	}
	if idle != nil {
		p.IdleTimeoutMillis = idle.AsDuration().Milliseconds()
	}
	return p
}
