package translate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/resources"
)

// bindVirtualServices places the routes of every VirtualService bound to one of our Gateways
// into the virtual hosts of the servers whose hosts intersect the VirtualService's hosts.
// VirtualServices are visited in conflict order, so on a shared host the earlier one's
// rules come first.
func (t *translator) bindVirtualServices(gws *gatewaySet) {
	for _, vs := range t.idx.virtualServices {
		if vs.Spec == nil {
			t.errorf(kindVirtualService, &vs.Meta, "spec", "VirtualService has no spec; ignored")
			continue
		}
		bound := t.boundGateways(vs, gws)
		if len(bound) == 0 {
			continue
		}
		var f findings
		hosts := vsHosts(&f, vs)
		// Any VirtualService-level field declared Rejected is an error; the http routes
		// are still served. tls[] and tcp[] are bound to L4 servers (l4routes.go).
		rejectedTopLevel(&f, vs.Spec.ProtoReflect(), "http")
		t.bindL4(&f, vs, bound, hosts)
		if len(vs.Spec.Http) == 0 && len(vs.Spec.Tcp) == 0 && len(vs.Spec.Tls) == 0 {
			f.warnf("spec.http", "no http routes; nothing to serve")
		}
		routes := t.compileRoutes(&f, vs, vs.Spec.Http, "spec.http")
		t.report(kindVirtualService, &vs.Meta, f)
		t.place(vs, bound, hosts, routes)
	}
	for _, gi := range gws.list {
		for _, si := range gi.servers {
			if !si.redirect && !si.routed {
				what := "requests get 404"
				if si.passthrough || si.tcp {
					what = "connections are closed"
				}
				if strings.HasPrefix(gi.gw.APIVersion, gatewayAPIGroup+"/") {
					// A Gateway API listener (internal/gatewayapi prefixes the listener).
					t.warnf(kindGateway, &gi.gw.Meta, si.field, "no route attaches to it; %s", what)
					continue
				}
				t.warnf(kindGateway, &gi.gw.Meta, si.field,
					"server %s has no routes: no VirtualService binds to its hosts; %s", si.name, what)
			}
		}
	}
}

// boundGateways resolves spec.gateways to our selected Gateways, warning about references
// to Gateways that do not exist or do not apply to this gateway workload.
func (t *translator) boundGateways(vs *resources.VirtualService, gws *gatewaySet) []*gatewayInfo {
	var out []*gatewayInfo
	for k, ref := range vs.Spec.Gateways {
		key, ok := resolveGatewayRef(ref, vs.Namespace)
		if !ok {
			continue
		}
		field := fmt.Sprintf("spec.gateways[%d]", k)
		gi := gws.byKey[key]
		switch {
		case gi != nil:
			if !slices.Contains(out, gi) {
				out = append(out, gi)
			}
		case t.idx.gatewayByKey[key] != nil:
			t.warnf(kindVirtualService, &vs.Meta, field, "Gateway %s does not apply to this gateway (rejected or selector does not match labels %s); not bound", key, formatLabels(t.opts.Labels))
		default:
			t.warnf(kindVirtualService, &vs.Meta, field, "Gateway %s does not exist; not bound", key)
		}
	}
	return out
}

type vsHost struct {
	field string
	host  string
}

func vsHosts(f *findings, vs *resources.VirtualService) []vsHost {
	if len(vs.Spec.Hosts) == 0 {
		f.errorf("spec.hosts", "at least one host is required; VirtualService not bound")
		return nil
	}
	var out []vsHost
	for k, h := range vs.Spec.Hosts {
		field := fmt.Sprintf("spec.hosts[%d]", k)
		lh := strings.ToLower(h)
		if err := validateHost(lh); err != nil {
			f.errorf(field, "%v; host ignored", err)
			continue
		}
		out = append(out, vsHost{field: field, host: lh})
	}
	return out
}

// place adds the routes of vs to every (server, domain) its hosts reach, and reports hosts
// that reach no server.
func (t *translator) place(vs *resources.VirtualService, bound []*gatewayInfo, hosts []vsHost, routes []*compiledRoute) {
	vsKey := nsName(&vs.Meta)
	gwNames := make([]string, len(bound))
	for i, gi := range bound {
		gwNames[i] = gi.key
	}
	for _, h := range hosts {
		accepted := false
		var denied []string
		for _, gi := range bound {
			x := gi.hostIndex()
			for _, pos := range x.candidates(h.host) {
				si, sh := x.entries[pos].si, x.entries[pos].sh
				domain, ok := intersect(sh.host, h.host)
				if !ok {
					continue
				}
				if !sh.admits(vs.Namespace) {
					denied = append(denied, fmt.Sprintf("server %s admits it only from namespace %s (host %q)", si.name, sh.ns, sh.String()))
					continue
				}
				accepted = true
				if si.redirect {
					// The server redirects every request to HTTPS; routes never run.
					continue
				}
				t.addRoutes(vs, vsKey, h.field, si, domain, routes)
			}
		}
		switch {
		case accepted:
		case len(denied) > 0:
			t.warnf(kindVirtualService, &vs.Meta, h.field,
				"host %s of VirtualService %s is not bound: %s",
				h.host, vsKey, strings.Join(denied, "; "))
		default:
			t.warnf(kindVirtualService, &vs.Meta, h.field,
				"host %s of VirtualService %s is not accepted by any server of gateway %s",
				h.host, vsKey, strings.Join(gwNames, ", "))
		}
	}
}

func (t *translator) addRoutes(vs *resources.VirtualService, vsKey, field string, si *serverInfo, domain string, routes []*compiledRoute) {
	if si.passthrough || si.tcp || len(vs.Spec.Http) == 0 {
		// L4 servers take tls[]/tcp[] routes only (bindL4), as in Istio. Said for servers
		// selected by SNI (a plain TCP server's "*" would match every HTTP host).
		if len(vs.Spec.Http) > 0 && (si.passthrough || si.tls != nil) {
			t.warnf(kindVirtualService, &vs.Meta, field, "http routes do not apply to the layer 4 server %s (host %s); ignored there, as by Istio", si.name, domain)
		}
		return
	}
	vb := si.target.vhosts[domain]
	if vb == nil {
		vb = &vhostBuild{domain: domain}
		si.target.vhosts[domain] = vb
	}
	if vb.redirect || slices.Contains(vb.owners, vsKey) {
		return
	}
	if len(vb.owners) > 0 {
		t.warnf(kindVirtualService, &vs.Meta, field,
			"host %s on server %s is also claimed by VirtualService %s; its rules come first and these are appended after them",
			domain, si.target.name, strings.Join(vb.owners, ", "))
	}
	vb.owners = append(vb.owners, vsKey)
	for _, cr := range routes {
		r, ok := cr.forServer(si)
		if !ok {
			continue
		}
		vb.routes = append(vb.routes, r)
		si.routed = true
		for _, c := range cr.clusters {
			t.usedClusters[c] = true
		}
	}
}
