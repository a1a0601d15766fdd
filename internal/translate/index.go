package translate

import (
	"sort"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
)

// index is the bundle sorted into conflict order and keyed for lookups.
type index struct {
	gateways        []*resources.Gateway // conflict order, duplicates removed
	gatewayByKey    map[string]*resources.Gateway
	virtualServices []*resources.VirtualService // conflict order, duplicates removed, visible to the gateway
	// hidden are VirtualServices not exported to the gateway's namespace, by "ns/name".
	hidden map[string]*resources.VirtualService
	// allVirtualServices are all of them (visible or not) by "ns/name": delegate targets.
	allVirtualServices map[string]*resources.VirtualService

	serviceEntries map[string][]*resources.ServiceEntry    // by lower-case host, conflict order
	destRules      map[string][]*resources.DestinationRule // by resolved host, conflict order
	services       map[string]*resources.Service           // by "ns/name"
	slices         map[string][]*resources.EndpointSlice   // by "ns/service-name", sorted by name
	pods           podIndex                                // pods.go
}

const serviceNameLabel = "kubernetes.io/service-name"

func (t *translator) buildIndex() *index {
	b := t.b
	idx := &index{
		gatewayByKey:   map[string]*resources.Gateway{},
		hidden:         map[string]*resources.VirtualService{},
		serviceEntries: map[string][]*resources.ServiceEntry{},
		destRules:      map[string][]*resources.DestinationRule{},
		services:       map[string]*resources.Service{},
		slices:         map[string][]*resources.EndpointSlice{},
	}

	gws := make([]*resources.Gateway, 0, len(b.Gateways))
	for i := range b.Gateways {
		gws = append(gws, &b.Gateways[i])
	}
	sort.SliceStable(gws, func(i, j int) bool { return before(&gws[i].Meta, &gws[j].Meta) })
	for _, g := range gws {
		key := nsName(&g.Meta)
		if first, dup := idx.gatewayByKey[key]; dup {
			t.errorf(kindGateway, &g.Meta, "metadata.name", "duplicate Gateway %s (first defined%s); ignored", key, where(&first.Meta))
			continue
		}
		idx.gatewayByKey[key] = g
		idx.gateways = append(idx.gateways, g)
	}

	vss := make([]*resources.VirtualService, 0, len(b.VirtualServices))
	for i := range b.VirtualServices {
		vss = append(vss, &b.VirtualServices[i])
	}
	sort.SliceStable(vss, func(i, j int) bool { return before(&vss[i].Meta, &vss[j].Meta) })
	seen := map[string]*resources.VirtualService{}
	idx.allVirtualServices = seen
	for _, v := range vss {
		key := nsName(&v.Meta)
		if first, dup := seen[key]; dup {
			t.errorf(kindVirtualService, &v.Meta, "metadata.name", "duplicate VirtualService %s (first defined%s); ignored", key, where(&first.Meta))
			continue
		}
		seen[key] = v
		if v.Spec != nil && !t.visible(kindVirtualService, &v.Meta, v.Spec.ExportTo, t.opts.DefaultExportTo.VirtualService) {
			if ValidateExportTo(v.Spec.ExportTo) == nil && t.bindsOurGateway(idx, v) {
				t.warnf(kindVirtualService, &v.Meta, "spec.exportTo", "not exported to the gateway's namespace %s; ignored (as Istio)", t.opts.Namespace)
			}
			idx.hidden[key] = v // still a possible delegate target (exportTo checked against the root)
			continue
		}
		idx.virtualServices = append(idx.virtualServices, v)
	}

	ses := make([]*resources.ServiceEntry, 0, len(b.ServiceEntries))
	for i := range b.ServiceEntries {
		se := &b.ServiceEntries[i]
		if se.Spec != nil && t.visible(kindServiceEntry, &se.Meta, se.Spec.ExportTo, t.opts.DefaultExportTo.ServiceEntry) {
			ses = append(ses, se)
		}
	}
	sort.SliceStable(ses, func(i, j int) bool { return before(&ses[i].Meta, &ses[j].Meta) })
	for _, se := range ses {
		for _, h := range se.Spec.GetHosts() {
			h = strings.ToLower(h)
			idx.serviceEntries[h] = append(idx.serviceEntries[h], se)
		}
	}

	drs := make([]*resources.DestinationRule, 0, len(b.DestinationRules))
	for i := range b.DestinationRules {
		dr := &b.DestinationRules[i]
		if dr.Spec != nil && t.visible(kindDestinationRule, &dr.Meta, dr.Spec.ExportTo, t.opts.DefaultExportTo.DestinationRule) && t.selectsGateway(dr) {
			drs = append(drs, dr)
		}
	}
	sort.SliceStable(drs, func(i, j int) bool { return before(&drs[i].Meta, &drs[j].Meta) })
	for _, dr := range drs {
		h := idx.canonicalHost(dr.Spec.GetHost(), dr.Namespace)
		idx.destRules[h] = append(idx.destRules[h], dr)
	}

	for i := range b.Services {
		s := &b.Services[i]
		if s.Service == nil {
			continue
		}
		key := s.Namespace + "/" + s.Name
		if prev, dup := idx.services[key]; !dup || sourceBefore(s.Source, prev.Source) {
			idx.services[key] = s
		}
	}
	for i := range b.EndpointSlices {
		es := &b.EndpointSlices[i]
		if es.EndpointSlice == nil {
			continue
		}
		svc := es.Labels[serviceNameLabel]
		if svc == "" {
			continue
		}
		key := es.Namespace + "/" + svc
		idx.slices[key] = append(idx.slices[key], es)
	}
	idx.pods = newPodIndex(b.Pods)
	for _, l := range idx.slices {
		sort.SliceStable(l, func(i, j int) bool {
			if l[i].Name != l[j].Name {
				return l[i].Name < l[j].Name
			}
			return sourceBefore(l[i].Source, l[j].Source)
		})
	}
	return idx
}

// canonicalHost resolves a destination host written in namespace ns the way Istio does for
// Kubernetes names: a ServiceEntry host is taken as written; otherwise "name" becomes
// name.ns.svc.cluster.local, "name.ns" and "name.ns.svc" get the rest of the suffix.
func (idx *index) canonicalHost(host, ns string) string {
	h := strings.ToLower(host)
	if _, ok := idx.serviceEntries[h]; ok || h == "" || strings.HasPrefix(h, "*") {
		return h
	}
	switch dots := strings.Count(h, "."); {
	case dots == 0:
		return h + "." + ns + ".svc.cluster.local"
	case dots == 1:
		return h + ".svc.cluster.local"
	case dots == 2 && strings.HasSuffix(h, ".svc"):
		return h + ".cluster.local"
	}
	return h
}

// serviceEntry returns the first ServiceEntry (in conflict order) declaring host.
func (idx *index) serviceEntry(host string) *resources.ServiceEntry {
	if l := idx.serviceEntries[host]; len(l) > 0 {
		return l[0]
	}
	return nil
}

// subset finds the named subset for host in the first DestinationRule that declares it.
// dr is the first DestinationRule for host (nil if none).
func (idx *index) subset(host, name string) (dr *resources.DestinationRule, s *networking.Subset) {
	for _, r := range idx.destRules[host] {
		if dr == nil {
			dr = r
		}
		for _, ss := range r.Spec.GetSubsets() {
			if ss != nil && ss.Name == name {
				return r, ss
			}
		}
	}
	return dr, nil
}

// bindsOurGateway: some spec.gateways entry names a Gateway that selects this gateway.
func (t *translator) bindsOurGateway(idx *index, vs *resources.VirtualService) bool {
	for _, ref := range vs.Spec.Gateways {
		if key, ok := resolveGatewayRef(ref, vs.Namespace); ok {
			if g := idx.gatewayByKey[key]; g != nil && g.Spec != nil && labelsSubset(g.Spec.Selector, t.opts.Labels) {
				return true
			}
		}
	}
	return false
}

// selectsGateway applies a DestinationRule's workloadSelector as Istio does: a rule with a
// selector applies only to workloads in its own namespace whose labels it selects.
func (t *translator) selectsGateway(dr *resources.DestinationRule) bool {
	ws := dr.Spec.WorkloadSelector
	if ws == nil {
		return true
	}
	return dr.Namespace == t.opts.Namespace && labelsSubset(ws.MatchLabels, t.opts.Labels)
}

func sourceBefore(a, b resources.Source) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Index < b.Index
}
