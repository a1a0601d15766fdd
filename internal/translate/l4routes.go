package translate

import (
	"fmt"
	"strings"
	"time"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Layer 4 routes (issue 13), as Istio's gateway builds them (pilot/pkg/networking/core/
// gateway.go): a VirtualService reaches an L4 server when one of its hosts matches one of
// the server's hosts (namespace admission included). On a PASSTHROUGH server every tls[]
// match whose port and gateways apply becomes an SNI entry (the first claim of an SNI name
// on a server wins; later duplicates are skipped with a warning). On a TLS-terminating or
// TCP server the first VirtualService (conflict order) with a tcp[] rule whose matches
// apply decides the server's only route. Matches on source or destination attributes are
// rejected: Istio's gateway ignores them, so honouring them would differ and ignoring
// them would be silent.

// Istio's defaults for a cluster's TCP settings (MeshConfig.connectTimeout, and the
// tcp_proxy idle timeout Istio sets when the DestinationRule gives none).
const (
	defaultConnectTimeout = 10 * time.Second
	defaultTCPIdleTimeout = time.Hour
)

// l4Rule is one compiled tls[] or tcp[] rule.
type l4Rule struct {
	name     string
	field    string
	scopes   []matchScope // parallel to sni; one entry per match (tcp: may be empty = all)
	sni      [][]string   // tls: the sniHosts of each match
	dests    []snapshot.L4Destination
	clusters []string
	// failed: the rule has errors. It still claims the servers and SNI names its
	// matches select, with no destination (connections are closed): a rule we cannot
	// honour fails closed, never handing its traffic to the next rule.
	failed bool
}

// destinations of the rule as placed: none when it failed.
func (r *l4Rule) destinations() []snapshot.L4Destination {
	if r.failed {
		return []snapshot.L4Destination{}
	}
	return r.dests
}

// bindL4 compiles the tls[] and tcp[] rules of vs and places them on the L4 servers of the
// bound gateways that its hosts reach.
func (t *translator) bindL4(f *findings, vs *resources.VirtualService, bound []*gatewayInfo, hosts []vsHost) {
	if len(vs.Spec.Tls) == 0 && len(vs.Spec.Tcp) == 0 {
		return
	}
	tlsRules := t.compileL4(f, vs, "tls", hosts)
	tcpRules := t.compileL4(f, vs, "tcp", hosts)
	landedTLS, landedTCP := false, false
	for _, gi := range bound {
		for _, si := range gi.servers {
			if (!si.passthrough && !si.tcp) || !reaches(si, hosts, vs.Namespace) {
				continue
			}
			if si.passthrough {
				landedTLS = t.placeTLS(vs, si, tlsRules) || landedTLS
			} else {
				landedTCP = t.placeTCP(si, tcpRules) || landedTCP
			}
		}
	}
	if len(tlsRules) > 0 && !landedTLS {
		f.warnf("spec.tls", "no tls rule applies to a PASSTHROUGH server of the bound gateways whose hosts match this VirtualService's hosts (tls routes serve only PASSTHROUGH servers); ignored")
	}
	if len(tcpRules) > 0 && !landedTCP {
		f.warnf("spec.tcp", "no tcp rule serves a TCP or TLS-terminating server of the bound gateways whose hosts match this VirtualService's hosts (an earlier VirtualService or rule may already decide it); ignored")
	}
}

// reaches reports whether one of hosts matches one of si's hosts that admits namespace ns.
func reaches(si *serverInfo, hosts []vsHost, ns string) bool {
	for _, h := range hosts {
		for _, sh := range si.hosts {
			if _, ok := intersect(sh.host, h.host); ok && sh.admits(ns) {
				return true
			}
		}
	}
	return false
}

// placeTLS adds the SNI entries of rules applying to the passthrough server si.
func (t *translator) placeTLS(vs *resources.VirtualService, si *serverInfo, rules []*l4Rule) bool {
	ts := si.target
	landed := false
	for _, r := range rules {
		var ms []snapshot.L4Match
		for i, sc := range r.scopes {
			if !sc.applies(si) {
				continue
			}
			var names []string
			for _, sni := range r.sni[i] {
				for _, sh := range si.hosts {
					d, ok := intersect(sh.host, sni)
					if !ok {
						continue
					}
					if owner, dup := ts.sniOwner[d]; dup {
						if owner != r.name {
							t.warnf(kindVirtualService, &vs.Meta, r.field,
								"SNI %s on server %s is already routed by %s; skipped (as Istio does for duplicate SNI hosts)", d, si.name, owner)
						}
						continue
					}
					ts.sniOwner[d] = r.name
					names = append(names, d)
				}
			}
			if len(names) > 0 {
				ms = append(ms, snapshot.L4Match{SNIHosts: names})
			}
		}
		if len(ms) == 0 {
			continue
		}
		ts.tlsRoutes = append(ts.tlsRoutes, snapshot.L4Route{Name: r.name, Match: ms, Destinations: r.destinations()})
		t.useL4(si, r)
		landed = true
	}
	return landed
}

// placeTCP gives the TLS-terminating or TCP server si its route: the first rule whose
// matches apply (an empty match list applies everywhere), unless an earlier VirtualService
// decided it already.
func (t *translator) placeTCP(si *serverInfo, rules []*l4Rule) bool {
	ts := si.target
	if len(ts.tcpRoutes) > 0 {
		return false
	}
	for _, r := range rules {
		ok := len(r.scopes) == 0
		for _, sc := range r.scopes {
			ok = ok || sc.applies(si)
		}
		if !ok {
			continue
		}
		ts.tcpRoutes = []snapshot.L4Route{{Name: r.name, Destinations: r.destinations()}}
		t.useL4(si, r)
		return true
	}
	return false
}

func (t *translator) useL4(si *serverInfo, r *l4Rule) {
	si.routed = true
	if r.failed {
		return
	}
	for _, c := range r.clusters {
		t.usedClusters[c] = true
	}
}

// compileL4 converts the tls[] ("tls") or tcp[] ("tcp") rules of vs. A rule with any error
// is kept as failed (see l4Rule.failed).
func (t *translator) compileL4(f *findings, vs *resources.VirtualService, kind string, hosts []vsHost) []*l4Rule {
	var out []*l4Rule
	n := len(vs.Spec.Tcp)
	if kind == "tls" {
		n = len(vs.Spec.Tls)
	}
	for i := range n {
		base := fmt.Sprintf("spec.%s[%d]", kind, i)
		var rf findings
		r := &l4Rule{name: fmt.Sprintf("%s/%s/%d", nsName(&vs.Meta), kind, i), field: base}
		var route []*networking.RouteDestination
		if kind == "tls" {
			rule := vs.Spec.Tls[i]
			if rule == nil {
				rf.errorf(base, "empty rule")
			} else {
				route = rule.Route
				t.tlsMatches(&rf, base, vs, rule.Match, hosts, r)
			}
		} else {
			rule := vs.Spec.Tcp[i]
			if rule == nil {
				rf.errorf(base, "empty rule")
			} else {
				route = rule.Route
				for k, m := range rule.Match {
					r.scopes = append(r.scopes, l4Scope(&rf, fmt.Sprintf("%s.match[%d]", base, k), vs.Namespace, m.GetPort(), m.GetGateways()))
					rejectL4Attrs(&rf, fmt.Sprintf("%s.match[%d]", base, k), m.GetDestinationSubnets(), m.GetSourceLabels(), m.GetSourceNamespace())
					if m.GetSourceSubnet() != "" {
						rf.errorf(fmt.Sprintf("%s.match[%d].sourceSubnet", base, k), "sourceSubnet is not honoured by Istio's gateway (only port and gateways select a tcp rule there)")
					}
				}
			}
		}
		t.l4Destinations(f, &rf, base, vs, route, r)
		r.failed = rf.hasError()
		for k := range rf {
			if rf[k].sev == diag.Error {
				rf[k].msg += "; its connections are closed (the rule fails closed)"
			}
		}
		*f = append(*f, rf...)
		out = append(out, r)
	}
	return out
}

// tlsMatches validates tls[].match as Istio does: at least one match, each with sniHosts,
// each SNI host within the VirtualService's hosts.
func (t *translator) tlsMatches(rf *findings, base string, vs *resources.VirtualService, ms []*networking.TLSMatchAttributes, hosts []vsHost, r *l4Rule) {
	if len(ms) == 0 {
		rf.errorf(base+".match", "a tls rule needs at least one match (with sniHosts)")
		return
	}
	for k, m := range ms {
		mf := fmt.Sprintf("%s.match[%d]", base, k)
		if m == nil {
			rf.errorf(mf, "empty match")
			continue
		}
		if len(m.SniHosts) == 0 {
			rf.errorf(mf+".sniHosts", "sniHosts is required")
		}
		var names []string
		for j, raw := range m.SniHosts {
			sf := fmt.Sprintf("%s.sniHosts[%d]", mf, j)
			h := strings.ToLower(raw)
			if err := validateHost(h); err != nil {
				rf.errorf(sf, "%v", err)
				continue
			}
			within := false
			for _, vh := range hosts {
				if d, ok := intersect(vh.host, h); ok && d == h {
					within = true
				}
			}
			if !within {
				rf.errorf(sf, "SNI host %q is not matched by any of the VirtualService's hosts", raw)
				continue
			}
			names = append(names, h)
		}
		r.scopes = append(r.scopes, l4Scope(rf, mf, vs.Namespace, m.Port, m.Gateways))
		r.sni = append(r.sni, names)
		rejectL4Attrs(rf, mf, m.DestinationSubnets, m.SourceLabels, m.SourceNamespace)
	}
}

// l4Scope is the port/gateways restriction of one match.
func l4Scope(rf *findings, field, ns string, port uint32, gateways []string) matchScope {
	sc := matchScope{port: port}
	if port > 65535 {
		rf.errorf(field+".port", "port %d is not in 1-65535", port)
	}
	if len(gateways) > 0 {
		sc.gateways = []string{}
		for _, g := range gateways {
			if key, ok := resolveGatewayRef(g, ns); ok {
				sc.gateways = append(sc.gateways, key)
			}
		}
	}
	return sc
}

// rejectL4Attrs rejects the match attributes Istio's gateway does not use.
func rejectL4Attrs(rf *findings, field string, subnets []string, labels map[string]string, ns string) {
	const why = "is not honoured by Istio's gateway (only port and gateways select an L4 rule there)"
	if len(subnets) > 0 {
		rf.errorf(field+".destinationSubnets", "destinationSubnets %s", why)
	}
	if len(labels) > 0 {
		rf.errorf(field+".sourceLabels", "sourceLabels %s", why)
	}
	if ns != "" {
		rf.errorf(field+".sourceNamespace", "sourceNamespace %s", why)
	}
}

// l4Destinations resolves the weighted destinations of an L4 rule, with the TCP settings
// of each cluster's DestinationRule.
func (t *translator) l4Destinations(f, rf *findings, base string, vs *resources.VirtualService, route []*networking.RouteDestination, r *l4Rule) {
	if len(route) == 0 {
		rf.errorf(base+".route", "at least one destination is required")
		return
	}
	eachWeighted(t, f, rf, base, vs, route, func(df string, d *networking.RouteDestination, name string, w uint32) {
		dst := snapshot.L4Destination{Cluster: name, Weight: w}
		if name == "" { // failBackend: the connections picked for it are refused
			r.dests = append(r.dests, dst)
			return
		}
		tcpSettings(t.clusters[name].cluster, &dst)
		passthroughUpstreamTLS(f, base, df, t.clusters[name].cluster) // upstreamtls.go
		r.dests = append(r.dests, dst)
		r.clusters = append(r.clusters, name)
	})
}

// tcpSettings copies the TCP settings of c's connection pool (poolPolicy: the
// DestinationRule's merged trafficPolicy for the cluster's port and subset, as HTTP
// destinations read it) into dst, with Istio's defaults when there is none.
func tcpSettings(c snapshot.Cluster, dst *snapshot.L4Destination) {
	dst.ConnectTimeoutMillis = defaultConnectTimeout.Milliseconds()
	dst.IdleTimeoutMillis = defaultTCPIdleTimeout.Milliseconds()
	if p := c.Pool; p != nil {
		dst.ConnectTimeoutMillis, dst.IdleTimeoutMillis = p.ConnectTimeoutMillis, p.TCPIdleTimeoutMillis
		dst.MaxConnections = p.MaxConnections
	}
}

// passthroughTLS checks the tls block of a PASSTHROUGH server: key material and client
// verification have no effect there (the backend terminates TLS), which is reported.
func passthroughTLS(f *findings, base string, s *networking.ServerTLSSettings) {
	if s.CredentialName != "" || s.ServerCertificate != "" || s.PrivateKey != "" || s.CaCertificates != "" ||
		s.CaCrl != "" || len(s.CredentialNames) > 0 || len(s.TlsCertificates) > 0 || len(s.SubjectAltNames) > 0 ||
		s.MinProtocolVersion != 0 || s.MaxProtocolVersion != 0 || len(s.CipherSuites) > 0 {
		f.warnf(base, "mode PASSTHROUGH forwards TLS unterminated (the backend holds the keys and chooses the TLS parameters); credentials, client verification and protocol settings here have no effect")
	}
	if s.HttpsRedirect {
		f.warnf(base+".httpsRedirect", "httpsRedirect has no effect on a PASSTHROUGH server; ignored")
	}
}

// tcpServerNotes reports what a plain TCP server ignores: tls settings (the port does not
// terminate TLS) and protocol-specific filters (MONGO, MYSQL, REDIS are proxied as TCP).
func tcpServerNotes(f *findings, base string, s *networking.Server) {
	if p := strings.ToUpper(s.Port.Protocol); p != "TCP" {
		f.warnf(base+".port.protocol", "protocol %s is proxied as plain TCP (Envoy's %s-specific filters, statistics only in Istio's defaults, are not applied)", p, strings.ToLower(p))
	}
	if s.Tls != nil {
		f.warnf(base+".tls", "tls settings have no effect on a plain TCP server; ignored (use protocol TLS to terminate or pass TLS through)")
	}
}
