package gatewayapi

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
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
			if !a.l.passthrough {
				t.terminateTLSRoute(r, a, dests)
				continue
			}
			t.l4VS(r, a, "", a.hosts, a.l.istioKey()).Tls = []*networking.TLSRoute{{
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
			t.l4VS(r, a, "", a.hosts, a.l.istioKey()).Tcp = []*networking.TCPRoute{{Route: dests}}
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

// terminateTLSRoute: a TLSRoute on a TLS listener in mode Terminate. The listener's TLS
// is terminated and the stream forwarded (Istio's TLS server with SIMPLE or MUTUAL TLS and
// tcp[] routes). An Istio TLS-terminating server carries one tcp route for every SNI it
// serves, so each hostname of the route gets a server of its own (the listener's, when
// the hostname is the listener's; else a copy for that hostname, emitTerminateHosts):
// the SNI then chooses the route, as the TLSRoute's hostnames say.
func (t *translator) terminateTLSRoute(r *route, a attachment, dests []*networking.RouteDestination) {
	own := a.l.host
	if own == "" {
		own = "*"
	}
	for _, h := range a.hosts {
		key, suffix := a.l.istioKey(), ""
		if h != own {
			suffix = "." + hostLabel(h)
			key += suffix
			if t.termHosts == nil {
				t.termHosts = map[*listener][]string{}
			}
			if !slices.Contains(t.termHosts[a.l], h) {
				t.termHosts[a.l] = append(t.termHosts[a.l], h)
			}
		}
		t.l4VS(r, a, suffix, []string{h}, key).Tcp = []*networking.TCPRoute{{Route: dests}}
	}
}

// emitTerminateHosts adds, after the listener's derived Gateway, a Gateway per TLSRoute
// hostname of a Terminate listener: the same server for that host.
func (t *translator) emitTerminateHosts(l *listener) {
	if len(t.termHosts[l]) == 0 {
		return
	}
	g := l.gw.obj
	i := slices.IndexFunc(t.out.Gateways, func(x resources.Gateway) bool {
		return x.Namespace == g.Namespace && x.Name == l.istioName() && x.APIVersion == Group+"/v1"
	})
	if i < 0 || len(t.out.Gateways[i].Spec.Servers) == 0 {
		return // the listener derived no Gateway: its routes' Gateways would serve nothing either
	}
	base := t.out.Gateways[i]
	for _, h := range t.termHosts[l] {
		srv := proto.Clone(base.Spec.Servers[0]).(*networking.Server)
		srv.Hosts = []string{h}
		name := l.istioName() + "." + hostLabel(h)
		t.derived("Gateway", g.Namespace, name, derivedFrom{ns: g.Namespace, name: g.Name, field: l.field,
			what: "listener " + l.name() + " for TLSRoute host " + h + ": "})
		gw := base
		gw.Meta.Name = name
		gw.Spec = &networking.Gateway{Selector: base.Spec.Selector, Servers: []*networking.Server{srv}}
		t.out.Gateways = append(t.out.Gateways, gw)
	}
}

// l4VS adds the VirtualService of an L4 route on one listener (suffix: of one of its
// hostnames) for hosts, bound to the Istio Gateway gwKey.
func (t *translator) l4VS(r *route, a attachment, suffix string, hosts []string, gwKey string) *networking.VirtualService {
	spec := &networking.VirtualService{Hosts: hosts, Gateways: []string{gwKey}}
	name := r.meta.Name + "." + a.l.istioName() + suffix
	t.derived("VirtualService", r.meta.Namespace, name, derivedFrom{kind: r.kind, ns: r.meta.Namespace,
		name: r.meta.Name, field: "spec.rules[0]", what: "on listener " + a.l.name() + ": "})
	t.out.VirtualServices = append(t.out.VirtualServices, resources.VirtualService{
		Meta: resources.Meta{
			Namespace: r.meta.Namespace, Name: name, APIVersion: Group + "/v1",
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
				t.emitTerminateHosts(l)
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
