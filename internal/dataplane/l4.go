package dataplane

import (
	"context"
	"crypto/tls"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/dataplane/router"
	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Layer 4 streams (issue 13): the listener hands passthrough, TLS-terminated TCP and
// plain TCP connections to serveStream, which picks the route of the connection's server
// (by SNI for passthrough), a weighted destination and an endpoint, and copies bytes with
// package tcpproxy. A stream keeps the state it started with: snapshot and credential
// swaps never touch established streams; removing a port drains them (Listener.Shutdown).

// StreamObserver is optionally implemented by an Observer (package metrics does) to
// count L4 streams. ForStream is resolved once per route destination per snapshot.
type StreamObserver interface {
	ForStream(route, destination string) StreamCounter
	// StreamRefused counts a connection refused before any upstream byte moved, by
	// reason: "no_route", "no_endpoints", "max_connections", "connect_failed".
	StreamRefused(reason string)
}

// StreamCounter counts the streams of one route destination (an interface literal alias,
// so an observer package need not import this one).
type StreamCounter = interface {
	Opened()
	Closed()
	Received(n int64) // bytes from the client
	Sent(n int64)     // bytes to the client
}

// Refusal reasons.
const (
	refusedNoRoute     = "no_route"
	refusedNoEndpoints = "no_endpoints"
	refusedMaxConns    = "max_connections"
	refusedConnect     = "connect_failed"
)

// l4Port is the L4 runtime of one listener: its stream servers by snapshot server name
// (a TCP listener's one server is also under "").
type l4Port struct {
	servers map[string]*l4Server
}

type l4Server struct {
	sni    *router.Hosts // passthrough: SNI -> index in routes
	routes []*l4Route
}

type l4Route struct {
	name  string
	dests []*l4Dest
	total uint32
}

type l4Dest struct {
	snapshot.L4Destination
	cluster *snapshot.Cluster
	obs     StreamCounter
}

// buildL4 compiles the stream servers of l; nil when it has none.
func buildL4(l *snapshot.Listener, clusters map[string]*snapshot.Cluster, obs Observer) *l4Port {
	so, _ := obs.(StreamObserver)
	p := &l4Port{servers: map[string]*l4Server{}}
	for i := range l.Servers {
		s := &l.Servers[i]
		if !s.Passthrough && !s.TCP {
			continue
		}
		ls := &l4Server{}
		routes := s.TCPRoutes
		if s.Passthrough {
			routes = s.TLSRoutes
			patterns := make([][]string, len(routes))
			for j, r := range routes {
				for _, m := range r.Match {
					patterns[j] = append(patterns[j], m.SNIHosts...)
				}
			}
			ls.sni = router.NewHosts(patterns)
		}
		for _, r := range routes {
			lr := &l4Route{name: r.Name}
			for _, d := range r.Destinations {
				ld := &l4Dest{L4Destination: d, cluster: clusters[d.Cluster], obs: nopCounter{}}
				if so != nil {
					ld.obs = so.ForStream(r.Name, d.Cluster)
				}
				lr.dests = append(lr.dests, ld)
				lr.total += d.Weight
			}
			ls.routes = append(ls.routes, lr)
		}
		p.servers[s.Name] = ls
		if l.Protocol == snapshot.TCP {
			p.servers[""] = ls
		}
	}
	if len(p.servers) == 0 {
		return nil
	}
	return p
}

// route returns the route for a stream of server (sni for passthrough), or nil.
func (s *l4Server) route(sni string) *l4Route {
	if s.sni != nil {
		if i := s.sni.Lookup(sni); i >= 0 && i < len(s.routes) {
			return s.routes[i]
		}
		return nil
	}
	if len(s.routes) > 0 {
		return s.routes[0]
	}
	return nil
}

func (r *l4Route) pick() *l4Dest {
	if len(r.dests) == 1 || r.total == 0 {
		return r.dests[0]
	}
	n := rand.Uint32N(r.total)
	for _, d := range r.dests {
		if n < d.Weight {
			return d
		}
		n -= d.Weight
	}
	return r.dests[len(r.dests)-1]
}

// streamHandler is the listener.Config.Stream hook of a port.
func (d *Dataplane) streamHandler(port listenKey) func(listener.StreamConn) {
	return func(sc listener.StreamConn) { d.serveStream(port, sc) }
}

// tcpPort is the listener.Config.TCP hook of a port.
func (d *Dataplane) tcpPort(port listenKey) func() bool {
	return func() bool {
		ps := d.state.Load().port(port)
		return ps != nil && ps.listener.Protocol == snapshot.TCP
	}
}

func (d *Dataplane) serveStream(port listenKey, sc listener.StreamConn) {
	refuse := func(reason string) {
		// Counted before the close, so whoever sees the close also sees the count.
		if so, ok := d.obs.(StreamObserver); ok {
			so.StreamRefused(reason)
		}
		_ = sc.Conn.Close()
		d.logger.Debug("stream refused", "port", port.port, "bind", port.bind, "sni", sc.SNI, "reason", reason, "remote", remoteOf(sc).String())
	}
	st := d.state.Load()
	ps := st.port(port)
	var srv *l4Server
	if ps != nil && ps.l4 != nil {
		name := ""
		if sc.Server != nil {
			name = sc.Server.Name
		}
		srv = ps.l4.servers[name]
	}
	var rt *l4Route
	if srv != nil {
		rt = srv.route(sc.SNI)
	}
	if rt == nil || len(rt.dests) == 0 {
		refuse(refusedNoRoute)
		return
	}
	dst := rt.pick()
	c := dst.cluster
	if c == nil || len(c.Endpoints) == 0 {
		refuse(refusedNoEndpoints)
		return
	}
	if !d.l4proxy.Acquire(c.Name, dst.MaxConnections) {
		d.proxy.Overflow(c.Name, upstream.BreakerMaxConnections)
		refuse(refusedMaxConns)
		return
	}
	defer d.l4proxy.Release(c.Name)
	cl := st.clusters.Get(c.Name)
	ep, ok := cl.Pick(&upstream.Key{Src: remoteOf(sc).String()})
	if !ok { // every endpoint ejected by outlier detection
		refuse(refusedNoEndpoints)
		return
	}
	var hdr []byte
	if pp := c.ProxyProtocol; pp != nil {
		tc, _ := sc.Conn.(*tls.Conn)
		var err error
		if hdr, err = proxyHeader(pp, remoteOf(sc), localOf(sc), tc, sc.SNI); err != nil { // proxyproto.go
			d.logger.Debug("proxy protocol header", "cluster", c.Name, "error", err)
			refuse(refusedConnect)
			return
		}
	}
	timeout := time.Duration(dst.ConnectTimeoutMillis) * time.Millisecond
	var up net.Conn
	var err error
	raw := false
	if rawDialable(c) { // the event loop's own socket (tcpproxy.DialLoop, design 0036)
		up, raw, err = d.l4proxy.DialLoop(sc.Conn, ep, timeout, hdr, l4Keepalive(c))
	}
	if !raw {
		up, err = dialStream(cl, ep, timeout, hdr) // upstreamtls.go
	}
	cl.Report(ep, 0, l4Result(err))
	if err != nil {
		d.logger.Debug("upstream connect failed", "cluster", c.Name, "endpoint", ep, "error", err)
		refuse(refusedConnect)
		return
	}
	dst.obs.Opened()
	if stop := maxDuration(c, &d.l4proxy, sc.Conn, up); stop != nil {
		defer stop()
	}
	res := d.l4proxy.PipeOn(sc.Workers, sc.Conn, up, sc.Prefix, time.Duration(dst.IdleTimeoutMillis)*time.Millisecond, dst.obs)
	dst.obs.Closed()
	if d.logger.Enabled(context.Background(), slog.LevelDebug) {
		d.logger.Debug("stream closed", "route", rt.name, "cluster", c.Name, "endpoint", ep,
			"received", res.Received, "sent", res.Sent, "idle_timeout", res.Idle)
	}
}

// rawDialable reports whether a stream to c may use tcpproxy.DialLoop: no TLS
// origination (crypto/tls needs a net.Conn).
func rawDialable(c *snapshot.Cluster) bool {
	return c.TLS == nil
}

// l4Keepalive is the TCP keep-alive of c's upstream sockets (tcp.tcpKeepalive), as the
// pool's dialer sets it: none unless c asks.
func l4Keepalive(c *snapshot.Cluster) net.KeepAliveConfig {
	if c.Pool == nil {
		return net.KeepAliveConfig{}
	}
	return upstream.Dialer(c.Pool, 0).KeepAliveConfig
}

// remoteOf and localOf are the stream's downstream addresses (a downstream PROXY
// header's when one was accepted).
func remoteOf(sc listener.StreamConn) net.Addr {
	if sc.Remote != nil {
		return sc.Remote
	}
	return sc.Conn.RemoteAddr()
}

func localOf(sc listener.StreamConn) net.Addr {
	if sc.Local != nil {
		return sc.Local
	}
	return sc.Conn.LocalAddr()
}

type nopCounter struct{}

func (nopCounter) Opened()        {}
func (nopCounter) Closed()        {}
func (nopCounter) Received(int64) {}
func (nopCounter) Sent(int64)     {}
