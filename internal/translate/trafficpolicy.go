package translate

import (
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
)

// clusterPolicy returns the traffic policy that applies to the cluster of host, port and
// subset, and the DestinationRule it comes from (nil, nil when none applies). As Istio's
// cluster builder: the first DestinationRule for the host gives the top-level policy, whose
// portLevelSettings for port replace its connectionPool, loadBalancer, outlierDetection and
// tls; a subset's policy then overrides those fields one by one, and the subset's own
// portLevelSettings for port replace them again. Port-level settings do not inherit: a
// field they leave unset falls back to the default, not to the enclosing policy.
func (t *translator) clusterPolicy(host string, port uint32, subset string) (*networking.TrafficPolicy, *resources.DestinationRule) {
	rules := t.idx.destRules[host]
	if len(rules) == 0 {
		return nil, nil
	}
	dr := rules[0]
	tp := mergeTrafficPolicy(nil, dr.Spec.GetTrafficPolicy(), port)
	if subset != "" {
		sdr, ss := t.idx.subset(host, subset)
		if ss != nil {
			// The subset's rule may be a later DestinationRule for the host; its
			// top-level policy is the base then, as Istio merges per rule.
			if sdr != dr {
				dr = sdr
				tp = mergeTrafficPolicy(nil, sdr.Spec.GetTrafficPolicy(), port)
			}
			tp = mergeTrafficPolicy(tp, ss.GetTrafficPolicy(), port)
		}
	}
	return tp, dr
}

// mergeTrafficPolicy overlays override on base for port, as Istio's MergeTrafficPolicy:
// each of connectionPool, loadBalancer, outlierDetection, tls, tunnel and proxyProtocol set
// in override replaces base's; then a portLevelSettings entry of override for port replaces
// connectionPool, loadBalancer, outlierDetection and tls wholesale (unset ones become
// unset). The result has no portLevelSettings. base is expected already merged for port.
func mergeTrafficPolicy(base, override *networking.TrafficPolicy, port uint32) *networking.TrafficPolicy {
	if override == nil {
		return base
	}
	m := &networking.TrafficPolicy{}
	if base != nil {
		m.ConnectionPool, m.LoadBalancer, m.OutlierDetection = base.ConnectionPool, base.LoadBalancer, base.OutlierDetection
		m.Tls, m.Tunnel, m.ProxyProtocol, m.RetryBudget = base.Tls, base.Tunnel, base.ProxyProtocol, base.RetryBudget
	}
	if override.ConnectionPool != nil {
		m.ConnectionPool = override.ConnectionPool
	}
	if override.LoadBalancer != nil {
		m.LoadBalancer = override.LoadBalancer
	}
	if override.OutlierDetection != nil {
		m.OutlierDetection = override.OutlierDetection
	}
	if override.Tls != nil {
		m.Tls = override.Tls
	}
	if override.Tunnel != nil {
		m.Tunnel = override.Tunnel
	}
	if override.ProxyProtocol != nil {
		m.ProxyProtocol = override.ProxyProtocol
	}
	if override.RetryBudget != nil {
		m.RetryBudget = override.RetryBudget
	}
	for _, p := range override.PortLevelSettings {
		if p != nil && p.Port != nil && p.Port.Number == port {
			m.ConnectionPool, m.LoadBalancer, m.OutlierDetection, m.Tls = p.ConnectionPool, p.LoadBalancer, p.OutlierDetection, p.Tls
			break
		}
	}
	return m
}
