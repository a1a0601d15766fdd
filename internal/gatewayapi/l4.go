package gatewayapi

import (
	"fmt"

	networking "istio.io/api/networking/v1alpha3"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// l4Routes translates TLSRoutes (Passthrough listeners, by SNI) and TCPRoutes into
// VirtualService tls[] and tcp[] rules, one VirtualService per route and listener.
func (t *translator) l4Routes() {
	g := &t.in.GatewayAPI
	for i := range g.TLSRoutes {
		o := &g.TLSRoutes[i]
		r := t.newRoute("TLSRoute", &o.ObjectMeta, o.Source, &o.Spec.CommonRouteSpec, o.Spec.Hostnames)
		if r == nil {
			continue
		}
		dests := t.l4Rules(r, o.Spec.Rules)
		for _, a := range r.attachments() {
			t.l4VS(r, a).Tls = []*networking.TLSRoute{{
				Match: []*networking.TLSMatchAttributes{{SniHosts: a.hosts}},
				Route: dests,
			}}
		}
	}
	for i := range g.TCPRoutes {
		o := &g.TCPRoutes[i]
		rules := make([]gwv1.TLSRouteRule, len(o.Spec.Rules))
		for k, rr := range o.Spec.Rules {
			rules[k] = gwv1.TLSRouteRule{Name: rr.Name, BackendRefs: rr.BackendRefs}
		}
		r := t.newRoute("TCPRoute", &o.ObjectMeta, o.Source, &o.Spec.CommonRouteSpec, nil)
		if r == nil {
			continue
		}
		dests := t.l4Rules(r, rules)
		for _, a := range r.attachments() {
			t.l4VS(r, a).Tcp = []*networking.TCPRoute{{Route: dests}}
		}
	}
}

// l4Rules resolves the backends of the (single) rule of an L4 route. An invalid backend
// keeps its weight and its share of connections is refused (resources.FailBackendHost),
// as the spec requires; all invalid: the destination list is empty and the translator
// rejects the rule, so nothing is forwarded.
func (t *translator) l4Rules(r *route, rules []gwv1.TLSRouteRule) []*networking.RouteDestination {
	if len(rules) > 1 {
		r.diag(t, diag.Error, "spec.rules[1]", "only one rule is supported on a %s; the others are ignored", r.kind)
	}
	if len(rules) == 0 {
		return nil
	}
	var ws []weighted
	valid := 0
	for k, br := range rules[0].BackendRefs {
		w := weighted{weight: 1}
		if br.Weight != nil {
			w.weight = *br.Weight
		}
		d, reason, msg := t.backend(r, br.BackendObjectReference)
		if reason != "" {
			r.unresolved(reason, msg)
			d = failDestination()
		}
		if d.Host == resources.FailBackendHost {
			r.diag(t, diag.Error, fmt.Sprintf("spec.rules[0].backendRefs[%d]", k), "%s; its share of connections (weight %d) is refused", msg, w.weight)
		} else {
			valid++
		}
		w.dest = d
		ws = append(ws, w)
	}
	if valid == 0 {
		return nil
	}
	var out []*networking.RouteDestination
	for _, d := range normalize(ws) {
		out = append(out, &networking.RouteDestination{Destination: d.Destination, Weight: d.Weight})
	}
	return out
}

// l4VS adds the VirtualService of an L4 route on one listener.
func (t *translator) l4VS(r *route, a attachment) *networking.VirtualService {
	spec := &networking.VirtualService{Hosts: a.hosts, Gateways: []string{a.l.istioKey()}}
	t.derived("VirtualService", r.meta.Namespace, r.meta.Name+"."+a.l.istioName(), derivedFrom{kind: r.kind, ns: r.meta.Namespace,
		name: r.meta.Name, field: "spec.rules[0]", what: "on listener " + a.l.name() + ": "})
	t.out.VirtualServices = append(t.out.VirtualServices, resources.VirtualService{
		Meta: resources.Meta{
			Namespace: r.meta.Namespace, Name: r.meta.Name + "." + a.l.istioName(), APIVersion: Group + "/v1",
			Source: r.src, CreationTimestamp: r.meta.CreationTimestamp.Unix(),
		},
		Spec: spec,
	})
	return spec
}

// emit writes the derived Istio Gateways and HTTP VirtualServices.
func (t *translator) emit() {
	for _, gw := range t.gws {
		if !gw.accepted {
			continue
		}
		for _, l := range gw.listeners {
			if l.usable() {
				t.istioGateway(l)
			}
		}
	}
	for _, k := range t.vsKey {
		vb := t.vs[k]
		if len(vb.rules) == 0 { // every route was detached (kindConflicts)
			continue
		}
		name := vb.l.istioName() + "." + hostLabel(vb.host)
		t.derived("VirtualService", vb.l.gw.obj.Namespace, name, derivedFrom{ns: vb.l.gw.obj.Namespace, name: vb.l.gw.obj.Name,
			field: vb.l.field, what: "routes of listener " + vb.l.name() + " for host " + vb.host + ": "})
		t.out.VirtualServices = append(t.out.VirtualServices, resources.VirtualService{
			Meta: resources.Meta{
				Namespace: vb.l.gw.obj.Namespace, Name: name, APIVersion: Group + "/v1",
				Source: vb.l.gw.obj.Source, CreationTimestamp: vb.l.gw.obj.CreationTimestamp.Unix(),
			},
			Spec: &networking.VirtualService{Hosts: []string{vb.host}, Gateways: []string{vb.l.istioKey()}, Http: vb.sortedRules()},
		})
	}
}

func hostLabel(h string) string {
	if h == "*" {
		return "any"
	}
	if len(h) > 1 && h[0] == '*' {
		return "wildcard" + h[1:]
	}
	return h
}
