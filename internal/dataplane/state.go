package dataplane

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/portcullis/portcullis/internal/authz/engine"
	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/dataplane/router"
	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// state is the complete, immutable runtime of one snapshot (plus one credentials
// generation). It is replaced as a whole, never mutated.
type state struct {
	snap     *snapshot.Snapshot
	ports    map[listenKey]*portState // by (bind, port)
	clusters *upstream.Clusters
	// observers are the request observers of the snapshot's virtual hosts by name,
	// resolved once here rather than per request.
	observers map[string]RequestObserver
	// authz enforces the snapshot's Security; nil when there is none (no per-request cost).
	authz *engine.Engine
}

// listenKey identifies a listener: its Gateway port on a bind address (snapshot.Listener
// Bind; "" is the default listen host).
type listenKey struct {
	bind string
	port uint32
}

func keyOf(l *snapshot.Listener) listenKey { return listenKey{bind: l.Bind, port: l.Port} }

// portState is one listener's runtime.
type portState struct {
	listener *snapshot.Listener
	// tls is the per-SNI TLS table; nil when the port serves plain HTTP.
	tls *listener.Table
	// routes[i] is the compiled route table of listener.Servers[i] (TLS). On plain-HTTP
	// ports all servers share one table, routes[0].
	routes []*router.Table
	// l4 holds the stream servers (passthrough, TLS-terminated TCP, TCP); nil if none.
	l4 *l4Port
}

// buildState compiles everything a snapshot needs. Any route compile error rejects the
// whole snapshot (the caller keeps the last good state); credential problems do not: the
// affected servers fail their handshakes.
func buildState(snap *snapshot.Snapshot, creds listener.Credentials, tk listener.Tickets, obs Observer, logger *slog.Logger) (*state, error) {
	st := &state{
		snap:      snap,
		ports:     make(map[listenKey]*portState, len(snap.Listeners)),
		clusters:  upstream.NewClusters(snap.Clusters),
		observers: map[string]RequestObserver{},
	}
	var errs []error
	byName := make(map[string]*snapshot.Cluster, len(snap.Clusters))
	for i := range snap.Clusters {
		byName[snap.Clusters[i].Name] = &snap.Clusters[i]
	}
	for i := range snap.Listeners {
		l := &snap.Listeners[i]
		if _, dup := st.ports[keyOf(l)]; dup {
			errs = append(errs, fmt.Errorf("listener %s: port %d (bind %q) is used by another listener", l.Name, l.Port, l.Bind))
			continue
		}
		ps := &portState{listener: l}
		for j := range l.Servers {
			for k := range l.Servers[j].VirtualHosts {
				vh := &l.Servers[j].VirtualHosts[k]
				if name := vh.Name; st.observers[name] == nil {
					st.observers[name] = requestObserver(obs, name)
				}
				for _, rt := range vh.Routes {
					if name := routeStatName(rt.StatPrefix); rt.StatPrefix != "" && st.observers[name] == nil {
						st.observers[name] = requestObserver(obs, name)
					}
				}
			}
		}
		switch l.Protocol {
		case snapshot.HTTPS:
			for j := range l.Servers {
				t, err := router.Compile(l.Servers[j].VirtualHosts)
				if err != nil {
					errs = append(errs, fmt.Errorf("listener %s server %s: %w", l.Name, l.Servers[j].Name, err))
				}
				ps.routes = append(ps.routes, t)
			}
			ps.tls = listener.NewTable(l.Servers, creds, tk, logger.With("listener", l.Name))
		case snapshot.HTTP:
			var vhosts []snapshot.VirtualHost
			for j := range l.Servers {
				vhosts = append(vhosts, l.Servers[j].VirtualHosts...)
			}
			t, err := router.Compile(vhosts)
			if err != nil {
				errs = append(errs, fmt.Errorf("listener %s: %w", l.Name, err))
			}
			ps.routes = []*router.Table{t}
		case snapshot.TCP:
			ps.routes = []*router.Table{{}}
		default:
			errs = append(errs, fmt.Errorf("listener %s: unsupported protocol %q", l.Name, l.Protocol))
			continue
		}
		ps.l4 = buildL4(l, byName, obs)
		st.ports[keyOf(l)] = ps
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return st, nil
}

// routeStatName is the stats name of a route's statPrefix (recorded like a virtual host's,
// prefixed so it cannot collide with one: virtual host names never contain '/').
func routeStatName(prefix string) string { return "route/" + prefix }

// withCredentials returns a copy of st whose TLS tables are rebuilt from creds; route
// tables and clusters are shared (they are immutable).
func (st *state) withCredentials(creds listener.Credentials, tk listener.Tickets, logger *slog.Logger) *state {
	next := &state{snap: st.snap, clusters: st.clusters, observers: st.observers, ports: make(map[listenKey]*portState, len(st.ports))}
	next.authz = st.authz
	for port, ps := range st.ports {
		cp := *ps
		if ps.tls != nil {
			cp.tls = listener.NewTable(ps.listener.Servers, creds, tk, logger.With("listener", ps.listener.Name))
		}
		next.ports[port] = &cp
	}
	return next
}

// tlsTable is the listener.Config.TLS hook for a listener.
func (st *state) tlsTable(port listenKey) *listener.Table {
	if st == nil {
		return nil
	}
	if ps := st.ports[port]; ps != nil {
		return ps.tls
	}
	return nil
}

// compileAuthz compiles a snapshot's security policies. Policies without a runtime are an
// error: the snapshot is rejected rather than served without them.
func compileAuthz(rt *engine.Runtime, sec *snapshot.Security) (*engine.Engine, error) {
	if sec.Empty() {
		if rt != nil {
			return rt.Compile(nil)
		}
		return nil, nil
	}
	if rt == nil {
		return nil, errors.New("security policies present but the dataplane has no authz runtime")
	}
	return rt.Compile(sec)
}
