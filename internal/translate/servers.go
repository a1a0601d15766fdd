package translate

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// serverInfo is one accepted Gateway server.
type serverInfo struct {
	gi       *gatewayInfo
	field    string // "spec.servers[i]"
	name     string // "<gw-ns>/<gw-name>/<port name or index>"
	port     uint32
	bind     string // Server.bind: an IP address, "" for the default listen host
	proto    snapshot.Protocol
	hosts    []serverHost
	tls      *snapshot.TLS
	redirect bool          // plain HTTP server with tls.httpsRedirect
	target   *targetServer // the snapshot.Server it feeds
	routed   bool          // some VirtualService route landed on it
	// Layer 4 (l4routes.go): passthrough forwards TLS unterminated by tls[] routes; tcp
	// proxies the stream (after termination when tls is set) by tcp[] routes.
	passthrough, tcp bool
}

func (s *serverInfo) describe() string {
	return fmt.Sprintf("server %s (Gateway %s %s)", s.name, s.gi.key, s.field)
}

// listenKey identifies one listener: a port number on a bind address ("" is the default
// listen host). Servers on one port with different binds are separate listeners (Istio).
type listenKey struct {
	bind string
	port uint32
}

// where names a listener in messages: "port 80", or "127.0.0.2:80" with a bind.
func (k listenKey) where() string {
	if k.bind == "" {
		return "port " + strconv.FormatUint(uint64(k.port), 10)
	}
	return net.JoinHostPort(k.bind, strconv.FormatUint(uint64(k.port), 10))
}

// portBuild collects the servers of one listener (bind address and port number).
type portBuild struct {
	listenKey
	proto     snapshot.Protocol
	first     *serverInfo            // the server that fixed the protocol
	hostOwner map[string]*serverInfo // host -> server that claimed it first
	targets   []*targetServer        // HTTPS: one per server; HTTP: exactly one, merged
}

// buildServers validates every server of the selected Gateways (in conflict order) and groups
// the accepted ones by listener (bind, port).
func (t *translator) buildServers(gws *gatewaySet) map[listenKey]*portBuild {
	ports := map[listenKey]*portBuild{}
	for _, gi := range gws.list {
		names := map[string]int{}
		for i, s := range gi.gw.Spec.GetServers() {
			si := t.validateServer(gi, i, s, names)
			if si == nil {
				continue
			}
			if t.claimPort(ports, si) {
				gi.servers = append(gi.servers, si)
			}
		}
	}
	return ports
}

// validateServer checks one server on its own; nil means rejected (and reported).
func (t *translator) validateServer(gi *gatewayInfo, i int, s *networking.Server, names map[string]int) *serverInfo {
	base := fmt.Sprintf("spec.servers[%d]", i)
	var f findings
	var si *serverInfo
	defer func() {
		if f.hasError() {
			name := gi.key + "/" + strconv.Itoa(i)
			if si != nil && si.name != "" {
				name = si.name
			}
			for k := range f {
				if f[k].sev == diag.Error {
					f[k].msg += "; server " + name + " rejected"
				}
			}
		}
		t.report(kindGateway, &gi.gw.Meta, f)
	}()
	if s == nil {
		f.errorf(base, "server is empty")
		return nil
	}
	si = &serverInfo{gi: gi, field: base}

	if s.Port == nil {
		f.errorf(base+".port", "port is required")
		return nil
	}
	if s.Port.Number == 0 || s.Port.Number > 65535 {
		f.errorf(base+".port.number", "port number %d is not in 1-65535", s.Port.Number)
	}
	si.port = s.Port.Number
	portName := s.Port.Name
	if portName == "" {
		portName = strconv.Itoa(i)
	}
	if j, dup := names[portName]; dup {
		f.errorf(base+".port.name", "port name %q is already used by spec.servers[%d]; server names must be unique within a Gateway", portName, j)
	} else {
		names[portName] = i
	}
	si.name = gi.key + "/" + portName

	proto, ok := parseProtocol(s.Port.Protocol)
	if !ok {
		if s.Port.Protocol == "" {
			f.errorf(base+".port.protocol", "protocol is required")
		} else {
			f.errorf(base+".port.protocol", "protocol %s is not supported yet (supported: HTTP, HTTP2, GRPC, HTTPS, TLS, TCP, MONGO, MYSQL, REDIS)", s.Port.Protocol)
		}
	}
	si.proto = proto

	if s.Port.TargetPort != 0 {
		f.warnf(base+".port.targetPort", "targetPort is not supported; ignored")
	}
	si.bind = parseBind(&f, base+".bind", s.Bind)
	if s.DefaultEndpoint != "" {
		f.warnf(base+".defaultEndpoint", "defaultEndpoint applies to sidecars only; ignored")
	}

	si.hosts = parseServerHosts(&f, base, s.Hosts, gi.gw.Namespace)

	switch {
	case !ok:
	case proto == snapshot.HTTPS:
		switch {
		case s.Tls == nil:
			f.errorf(base+".tls", "an %s server requires tls settings", strings.ToUpper(s.Port.Protocol))
		case s.Tls.Mode == networking.ServerTLSSettings_PASSTHROUGH:
			si.passthrough = true
			passthroughTLS(&f, base+".tls", s.Tls)
		default:
			si.tls = t.serverTLS(&f, base+".tls", s.Tls)
			si.tcp = strings.EqualFold(s.Port.Protocol, "TLS")
		}
	case proto == snapshot.TCP:
		si.tcp = true
		tcpServerNotes(&f, base, s)
	case s.Tls != nil:
		si.redirect = s.Tls.HttpsRedirect
		if s.Tls.Mode != networking.ServerTLSSettings_PASSTHROUGH || s.Tls.CredentialName != "" ||
			s.Tls.ServerCertificate != "" || s.Tls.PrivateKey != "" || s.Tls.CaCertificates != "" {
			f.warnf(base+".tls", "tls settings other than httpsRedirect have no effect on a plain %s server (this port does not terminate TLS); ignored", s.Port.Protocol)
		}
	}
	if f.hasError() {
		return nil
	}
	return si
}

// parseBind validates Server.bind: an IP address (v4 or v6) the server's listener binds,
// normalized; "" when unset. Unix domain sockets are rejected.
func parseBind(f *findings, field, raw string) string {
	switch {
	case raw == "":
		return ""
	case strings.HasPrefix(raw, "unix://"):
		f.errorf(field, "bind %q is a unix domain socket; only IP address binds are supported (a gateway listener serves TCP)", raw)
		return ""
	}
	a, err := netip.ParseAddr(raw)
	if err != nil {
		f.errorf(field, "bind %q is not an IP address (Istio binds the server's listener to this address)", raw)
		return ""
	}
	return a.Unmap().String()
}

func parseServerHosts(f *findings, base string, raw []string, gwNamespace string) []serverHost {
	if len(raw) == 0 {
		f.errorf(base+".hosts", "at least one host is required")
		return nil
	}
	var out []serverHost
	seen := map[string]bool{}
	for k, r := range raw {
		h, err := parseServerHost(r, gwNamespace)
		if err != nil {
			f.errorf(fmt.Sprintf("%s.hosts[%d]", base, k), "%v", err)
			continue
		}
		if seen[h.String()] {
			f.warnf(fmt.Sprintf("%s.hosts[%d]", base, k), "duplicate host %q; ignored", r)
			continue
		}
		seen[h.String()] = true
		out = append(out, h)
	}
	return out
}

// parseProtocol maps Istio protocol names (case-insensitive) to a listener protocol.
func parseProtocol(p string) (snapshot.Protocol, bool) {
	switch strings.ToUpper(p) {
	case "HTTPS":
		return snapshot.HTTPS, true
	case "HTTP", "HTTP2", "GRPC", "GRPC-WEB":
		return snapshot.HTTP, true
	case "TLS":
		return snapshot.HTTPS, true // TLS on the wire: shares ports with HTTPS (l4routes.go)
	case "TCP", "MONGO", "MYSQL", "REDIS":
		return snapshot.TCP, true
	}
	return "", false
}

// claimPort places an accepted server on its port. A server whose protocol differs from the
// port's, or that claims a host an earlier server on the port already has, is rejected and
// the diagnostic names both (Istio would merge or drop silently).
func (t *translator) claimPort(ports map[listenKey]*portBuild, si *serverInfo) bool {
	key := listenKey{bind: si.bind, port: si.port}
	pb := ports[key]
	if pb == nil {
		pb = &portBuild{listenKey: key, proto: si.proto, first: si, hostOwner: map[string]*serverInfo{}}
		ports[key] = pb
	}
	var f findings
	if pb.proto != si.proto {
		f.errorf(si.field+".port.protocol",
			"%s already serves %s for %s; one port cannot mix plain HTTP, TLS (HTTPS, TLS) and plain TCP; server %s rejected",
			key.where(), pb.proto, pb.first.describe(), si.name)
	} else if si.proto == snapshot.TCP && pb.first != si {
		f.errorf(si.field+".port", "%s already has a TCP server, %s; plain TCP carries no host name to tell servers apart; server %s rejected",
			key.where(), pb.first.describe(), si.name)
	}
	for k, h := range si.hosts {
		if owner := pb.hostOwner[h.host]; owner != nil {
			f.errorf(fmt.Sprintf("%s.hosts[%d]", si.field, k),
				"host %q on %s is already claimed by %s; server %s rejected",
				h.host, key.where(), owner.describe(), si.name)
		}
	}
	if f.hasError() {
		t.report(kindGateway, &si.gi.gw.Meta, f)
		if pb.first == si {
			delete(ports, key)
		}
		return false
	}
	for _, h := range si.hosts {
		pb.hostOwner[h.host] = si
	}
	if si.proto == snapshot.HTTPS || si.proto == snapshot.TCP {
		si.target = newTarget(si.name, si.port, si.tls)
		si.target.passthrough, si.target.tcp = si.passthrough, si.tcp
		pb.targets = append(pb.targets, si.target)
	} else {
		if len(pb.targets) == 0 {
			name := fmt.Sprintf("%d/http", si.port)
			if si.bind != "" {
				name = net.JoinHostPort(si.bind, strconv.FormatUint(uint64(si.port), 10)) + "/http"
			}
			pb.targets = append(pb.targets, newTarget(name, si.port, nil))
		}
		si.target = pb.targets[0]
	}
	for _, h := range si.hosts {
		si.target.hosts[h.host] = true
	}
	if si.redirect {
		for _, h := range si.hosts {
			si.target.addRedirect(h.host, si.name)
		}
	}
	return true
}
