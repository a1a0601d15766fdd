package translate

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// resolvedCluster is a cluster with the findings its resolution produced. Findings carry a
// field suffix (".host", ".port", ".subset") that is appended to each referring
// destination's path, so every route using a bad destination is reported.
type resolvedCluster struct {
	cluster snapshot.Cluster
	notes   findings
	// fail: the cluster's DestinationRule or ServiceEntry sets a field portcullis rejects;
	// every rule routing to it fails closed.
	fail string
	// policy: the merged trafficPolicy for the cluster's port and subset (clusterPolicy),
	// from the DestinationRule policyRule; nil when no DestinationRule applies.
	policy     *networking.TrafficPolicy
	policyRule *resources.DestinationRule
}

// destination resolves d to a cluster name. ok=false (with an error in rf) when the
// destination itself is malformed, which drops the rule; resolution problems (nothing
// behind the host, unknown subset, unsupported ServiceEntry) are reported in f and yield an
// endpoint-less cluster, so requests get 503 rather than being routed elsewhere.
func (t *translator) destination(f, rf *findings, field string, vs *resources.VirtualService, d *networking.Destination) (string, bool) {
	raw := strings.ToLower(d.Host)
	switch {
	case raw == "":
		rf.errorf(field+".host", "host is required")
		return "", false
	case strings.Contains(raw, "*"):
		rf.errorf(field+".host", "destination host %q must not be a wildcard", d.Host)
		return "", false
	}
	if err := validateHost(raw); err != nil {
		rf.errorf(field+".host", "%v", err)
		return "", false
	}
	host := t.idx.canonicalHost(raw, vs.Namespace)
	se := t.idx.serviceEntry(host)
	var svc *resources.Service
	if se == nil {
		svc = t.idx.service(host)
	}

	port := d.Port.GetNumber()
	if port > 65535 {
		rf.errorf(field+".port.number", "port %d is not in 1-65535", port)
		return "", false
	}
	if port == 0 {
		var ports []uint32
		switch {
		case se != nil:
			for _, p := range se.Spec.Ports {
				if p != nil {
					ports = append(ports, p.Number)
				}
			}
		case svc != nil:
			for _, p := range svc.Spec.Ports {
				ports = append(ports, uint32(p.Port))
			}
		}
		switch {
		case len(ports) == 1:
			port = ports[0]
		case se != nil || svc != nil:
			rf.errorf(field+".port", "port is required: %s declares %d ports", host, len(ports))
			return "", false
		}
	}

	name := fmt.Sprintf("outbound|%d|%s|%s", port, d.Subset, host)
	rc := t.clusters[name]
	if rc == nil {
		rc = t.resolve(name, host, port, d.Subset, se, svc)
		t.clusters[name] = rc
	}
	for _, n := range rc.notes {
		*f = append(*f, finding{sev: n.sev, field: field + n.field, msg: n.msg})
	}
	if rc.fail != "" {
		rf.errorf(field, "destination %s: %s", host, rc.fail)
	}
	return name, true
}

func (t *translator) resolve(name, host string, port uint32, subset string, se *resources.ServiceEntry, svc *resources.Service) *resolvedCluster {
	rc := &resolvedCluster{cluster: snapshot.Cluster{Name: name, Host: host, Port: port, Endpoints: []string{}}}
	c, n := &rc.cluster, &rc.notes
	if t.opts.UpstreamHTTP2[fmt.Sprintf("%s:%d", host, port)] {
		c.Protocol = snapshot.UpstreamHTTP2 // a GRPCRoute backend (internal/gatewayapi)
	}
	if rc.fail = t.policyFailure(host, se); rc.fail != "" {
		return rc
	}
	rc.policy, rc.policyRule = t.clusterPolicy(host, port, subset)
	lbPolicy(c, rc.policy)
	t.applyUpstreamTLS(rc, se) // upstreamtls.go
	t.poolPolicy(rc)
	t.proxyProtocolPolicy(rc) // proxyproto.go
	var labels map[string]string
	if subset != "" {
		dr, ss := t.idx.subset(host, subset)
		if ss == nil {
			if dr == nil {
				n.errorf(".subset", "no DestinationRule for host %s defines subset %q; requests get 503", host, subset)
			} else {
				n.errorf(".subset", "DestinationRule %s for host %s has no subset %q; requests get 503", nsName(&dr.Meta), host, subset)
			}
			return rc
		}
		labels = ss.Labels
		if labels == nil {
			labels = map[string]string{}
		}
	}
	switch {
	case se != nil:
		seEndpoints(c, n, se, labels)
	case svc != nil:
		svcEndpoints(c, n, svc, subset, labels, t.idx.pods, t.idx.slices[svc.Namespace+"/"+svc.Name])
	default:
		n.warnf(".host", "destination %s resolves to no service (no ServiceEntry declares it and no Service is named by it); requests get 503", host)
	}
	sortEndpoints(c)
	upstreamProtocol(c, rc.policy, se, svc)
	// Istio sets these on explicit HTTP/2 protocol options only: elsewhere they do nothing,
	// which is said rather than left silent.
	if p := c.Pool; p != nil && c.Protocol != snapshot.UpstreamHTTP2 && (p.MaxConcurrentStreams > 0 || p.H2Keepalive != nil) {
		n.warnf(".host", "DestinationRule %s: connectionPool.http.maxConcurrentStreams and http2KeepAlive apply only to HTTP/2 clusters (an HTTP2/GRPC/GRPC-WEB port, or h2UpgradePolicy UPGRADE without useClientProtocol); %s port %d is not one, so they have no effect (as in Istio)",
			nsName(&rc.policyRule.Meta), host, port)
	}
	return rc
}

// service finds the Service named by "<name>.<ns>.svc.cluster.local".
func (idx *index) service(host string) *resources.Service {
	rest, ok := strings.CutSuffix(host, ".svc.cluster.local")
	if !ok {
		return nil
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 2 {
		return nil
	}
	return idx.services[parts[1]+"/"+parts[0]]
}

func sortUnique(l []string) []string {
	if len(l) == 0 {
		return []string{}
	}
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return sortedKeys(m)
}

// policyFailure names the first rejected field of the DestinationRules for host or of se,
// or returns "".
func (t *translator) policyFailure(host string, se *resources.ServiceEntry) string {
	for _, dr := range t.idx.destRules[host] {
		if why := t.rejected[kindDestinationRule+" "+nsName(&dr.Meta)]; why != "" {
			return fmt.Sprintf("DestinationRule %s %s", nsName(&dr.Meta), why)
		}
	}
	if se != nil {
		if why := t.rejected[kindServiceEntry+" "+nsName(&se.Meta)]; why != "" {
			return fmt.Sprintf("ServiceEntry %s %s", nsName(&se.Meta), why)
		}
	}
	return ""
}

// checkPolicies reports, on each DestinationRule and ServiceEntry the gateway sees, every
// field its fieldspec declaration rejects, and remembers the first per object for
// policyFailure.
func (t *translator) checkPolicies() {
	check := func(kind string, m *resources.Meta, spec protoreflect.Message) {
		key := kind + " " + nsName(m)
		if _, done := t.rejected[key]; done {
			return
		}
		var f findings
		rejectedFields(&f, "spec", spec)
		if dr, ok := spec.Interface().(*networking.DestinationRule); ok {
			var warns findings
			f = append(f, checkLB(&warns, dr)...) // lb.go
			t.report(kind, m, warns)
		}
		t.rejected[key] = ""
		if len(f) > 0 {
			t.rejected[key] = f[0].field + ": " + f[0].msg
			for k := range f {
				f[k].msg += "; routes to its hosts fail closed (500)"
			}
		}
		t.report(kind, m, f)
	}
	for _, h := range sortedKeys(t.idx.destRules) {
		for _, dr := range t.idx.destRules[h] {
			check(kindDestinationRule, &dr.Meta, dr.Spec.ProtoReflect())
			t.checkUpstreamTLS(dr, h) // upstreamtls.go
		}
	}
	for _, h := range sortedKeys(t.idx.serviceEntries) {
		for _, se := range t.idx.serviceEntries[h] {
			check(kindServiceEntry, &se.Meta, se.Spec.ProtoReflect())
		}
	}
}
