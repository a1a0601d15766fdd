package translate

import (
	"fmt"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Upstream PROXY protocol (DestinationRule trafficPolicy.proxyProtocol, design 0029): the
// merged policy's proxyProtocol becomes Cluster.ProxyProtocol, as Istio's cluster builder
// wraps the cluster's transport socket in Envoy's upstream_proxy_protocol socket. The
// TLS TLVs are portcullis's extension, switched on per DestinationRule by
// snapshot.ProxyProtocolTLVsAnnotation.

// proxyProtocolPolicy sets rc.cluster.ProxyProtocol from rc.policy. The rule's annotation
// is checked once (on the rule); an invalid one fails the rule's routes closed.
func (t *translator) proxyProtocolPolicy(rc *resolvedCluster) {
	pp := rc.policy.GetProxyProtocol()
	if rc.fail != "" || rc.policyRule == nil {
		return
	}
	tlvs, why := t.checkProxyProtocol(rc.policyRule)
	if why != "" {
		rc.fail = why
		return
	}
	if pp == nil {
		return
	}
	c := &snapshot.ProxyProtocol{Version: 1, TLVs: tlvs}
	if pp.GetVersion() == networking.TrafficPolicy_ProxyProtocol_V2 {
		c.Version = 2
	}
	rc.cluster.ProxyProtocol = c
}

// checkProxyProtocol validates dr's TLV annotation against its proxyProtocol settings
// (top level and subsets) and reports problems on dr. It returns whether TLVs are on and
// the reason routes to the rule's host fail ("" when valid).
func (t *translator) checkProxyProtocol(dr *resources.DestinationRule) (bool, string) {
	v, set := dr.Meta.Annotations[snapshot.ProxyProtocolTLVsAnnotation]
	if !set {
		return false, ""
	}
	key := "proxyProtocol " + nsName(&dr.Meta)
	if why, done := t.rejected[key]; done {
		return why == "", why
	}
	var f, warns findings
	field := "metadata.annotations[" + snapshot.ProxyProtocolTLVsAnnotation + "]"
	if v != "tls" {
		f.errorf(field, "value %q is not supported (want \"tls\")", v)
	}
	any := false
	each := func(base string, tp *networking.TrafficPolicy) {
		pp := tp.GetProxyProtocol()
		if pp == nil {
			return
		}
		any = true
		if pp.GetVersion() != networking.TrafficPolicy_ProxyProtocol_V2 {
			f.errorf(base+".proxyProtocol.version", "the TLVs of %s need PROXY protocol version V2", snapshot.ProxyProtocolTLVsAnnotation)
		}
	}
	each("spec.trafficPolicy", dr.Spec.GetTrafficPolicy())
	for i, ss := range dr.Spec.GetSubsets() {
		each(fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), ss.GetTrafficPolicy())
	}
	if !any {
		warns.warnf(field, "no trafficPolicy.proxyProtocol in this DestinationRule: the annotation has no effect")
	}
	t.report(kindDestinationRule, &dr.Meta, warns)
	why := t.ruleFindings(key, dr, f) // pool.go
	return why == "", why
}
