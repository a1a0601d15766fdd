package translate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// targetServer is a snapshot.Server under construction: one per HTTPS server, one per plain
// HTTP port (all HTTP servers of a port share one route table).
type targetServer struct {
	name   string
	port   uint32
	tls    *snapshot.TLS
	hosts  map[string]bool
	vhosts map[string]*vhostBuild // by domain
	// Layer 4 (l4routes.go).
	passthrough, tcp     bool
	tlsRoutes, tcpRoutes []snapshot.L4Route
	sniOwner             map[string]string // SNI name -> the tls rule routing it
}

// vhostBuild is a VirtualHost under construction.
type vhostBuild struct {
	domain   string
	redirect bool     // httpsRedirect: VirtualService routes never land here
	owners   []string // VirtualServices ("ns/name") whose routes are in routes, in order
	routes   []snapshot.Route
}

func newTarget(name string, port uint32, tls *snapshot.TLS) *targetServer {
	return &targetServer{name: name, port: port, tls: tls, hosts: map[string]bool{}, vhosts: map[string]*vhostBuild{}, sniOwner: map[string]string{}}
}

func (ts *targetServer) addRedirect(domain, serverName string) {
	ts.vhosts[domain] = &vhostBuild{
		domain:   domain,
		redirect: true,
		routes: []snapshot.Route{{
			Name:     serverName + "/https-redirect",
			Redirect: &snapshot.Redirect{Scheme: "https", Code: 301},
		}},
	}
}

// assemble turns the port builds into the final, sorted snapshot and stamps its version.
func (t *translator) assemble(ports map[listenKey]*portBuild) *snapshot.Snapshot {
	snap := &snapshot.Snapshot{Listeners: []snapshot.Listener{}, Clusters: []snapshot.Cluster{}}
	keys := make([]listenKey, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].port != keys[j].port {
			return keys[i].port < keys[j].port
		}
		return keys[i].bind < keys[j].bind
	})
	for _, k := range keys {
		pb := ports[k]
		name := fmt.Sprintf("%s_%d", strings.ToLower(string(pb.proto)), k.port)
		if k.bind != "" {
			name = fmt.Sprintf("%s_%s_%d", strings.ToLower(string(pb.proto)), k.bind, k.port)
		}
		l := snapshot.Listener{
			Name:     name,
			Port:     k.port,
			Bind:     k.bind,
			Protocol: pb.proto,
			Servers:  make([]snapshot.Server, 0, len(pb.targets)),
		}
		for _, ts := range pb.targets {
			l.Servers = append(l.Servers, ts.build())
		}
		sort.Slice(l.Servers, func(i, j int) bool { return l.Servers[i].Name < l.Servers[j].Name })
		snap.Listeners = append(snap.Listeners, l)
	}

	names := make([]string, 0, len(t.usedClusters))
	for n := range t.usedClusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := t.clusters[n].cluster
		if c.Endpoints == nil {
			c.Endpoints = []string{}
		}
		snap.Clusters = append(snap.Clusters, c)
	}
	snap.Version = version(snap)
	return snap
}

func (ts *targetServer) build() snapshot.Server {
	s := snapshot.Server{
		Name:         ts.name,
		Hosts:        sortedKeys(ts.hosts),
		TLS:          ts.tls,
		VirtualHosts: make([]snapshot.VirtualHost, 0, len(ts.vhosts)),
		Passthrough:  ts.passthrough,
		TCP:          ts.tcp,
		TLSRoutes:    ts.tlsRoutes,
		TCPRoutes:    ts.tcpRoutes,
	}
	for _, d := range sortedKeys(ts.vhosts) {
		vb := ts.vhosts[d]
		routes := vb.routes
		if routes == nil {
			routes = []snapshot.Route{}
		}
		s.VirtualHosts = append(s.VirtualHosts, snapshot.VirtualHost{
			Name:    fmt.Sprintf("%s:%d", d, ts.port),
			Domains: []string{d},
			Routes:  routes,
		})
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
