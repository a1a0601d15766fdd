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
	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
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

// streamInfo is what deciding a new stream takes from its client connection, whichever
// path accepted it (a listener goroutine, or an event loop that holds only a socket).
type streamInfo struct {
	port   listenKey
	server string // the snapshot server the listener selected; "" on plain TCP ports
	sni    string
	// remote and local are the downstream addresses (a downstream PROXY header's when
	// the listener accepted one; local nil: conn's, asked only when needed, as a socket
	// accepted by an event loop has not asked yet); tc is the client's TLS when the
	// gateway terminated it.
	remote, local net.Addr
	conn          net.Conn
	tc            *tls.Conn
}

func (in *streamInfo) localAddr() net.Addr {
	if in.local != nil {
		return in.local
	}
	return in.conn.LocalAddr()
}

func streamInfoOf(port listenKey, sc listener.StreamConn) streamInfo {
	in := streamInfo{port: port, sni: sc.SNI, remote: remoteOf(sc), local: sc.Local, conn: sc.Conn}
	if sc.Server != nil {
		in.server = sc.Server.Name
	}
	in.tc, _ = sc.Conn.(*tls.Conn)
	return in
}

// l4Stream is one admitted stream: what decideStream chose for it and the
// maxConnections slot it holds. Whoever carries the stream runs the remaining steps in
// order: dial ep (with hdr first, within timeout), report the outcome to dialed, copy
// (idle timeout, counting into dst.obs), then closed. dialed with an error or closed
// releases the slot, exactly once; the caller closes the client after a refusal.
type l4Stream struct {
	d       *Dataplane
	info    streamInfo
	rt      *l4Route
	dst     *l4Dest
	c       *snapshot.Cluster
	cl      *upstream.Cluster
	ep      string
	hdr     []byte // the upstream PROXY header; nil: none
	timeout time.Duration
	idle    time.Duration
}

// serveStream carries a stream on the listener's goroutine: decide, dial, copy, account.
func (d *Dataplane) serveStream(port listenKey, sc listener.StreamConn) {
	s := d.decideStream(streamInfoOf(port, sc))
	if s == nil {
		_ = sc.Conn.Close()
		return
	}
	s.carry(sc)
}

// carry dials, copies and accounts for s on the calling goroutine.
func (s *l4Stream) carry(sc listener.StreamConn) {
	d := s.d
	var up net.Conn
	var err error
	raw := false
	if rawDialable(s.c) { // the event loop's own socket (tcpproxy.DialLoop, design 0036)
		up, raw, err = d.l4proxy.DialLoop(sc.Conn, s.ep, s.timeout, s.hdr, l4Keepalive(s.c))
	}
	if !raw {
		up, err = dialStream(s.cl, s.ep, s.timeout, s.hdr) // upstreamtls.go
	}
	if !s.dialed(err) {
		_ = sc.Conn.Close()
		return
	}
	if stop := maxDuration(s.c, &d.l4proxy, sc.Conn, up); stop != nil {
		defer stop()
	}
	s.closed(d.l4proxy.PipeOn(sc.Workers, sc.Conn, up, sc.Prefix, s.idle, s.dst.obs))
}

// streamLoopHandler is the listener.Config.StreamLoop hook of a port (nil unless the
// loop accepts, Options.L4Accept).
func (d *Dataplane) streamLoopHandler(port listenKey) func(listener.StreamConn, func()) {
	if d.loopAccept() == nil {
		return nil
	}
	return func(sc listener.StreamConn, done func()) { d.serveStreamLoop(port, sc, done) }
}

// serveStreamLoop carries a stream of a connection the event loop accepted, on the
// loop's goroutine (design 0036, step 2b): decided there (short locks only), then dialed
// and copied by the loop (tcpproxy.Proxy.Start), accounted for by its callbacks; done
// when it ended. A stream the loop cannot dial (TLS origination, an endpoint that is not
// an IP address) is carried on a worker as serveStream does.
func (d *Dataplane) serveStreamLoop(port listenKey, sc listener.StreamConn, done func()) {
	s := d.decideStream(streamInfoOf(port, sc))
	if s == nil {
		_ = sc.Conn.Close()
		done()
		return
	}
	u, _ := sc.Conn.(*tcpproxy.Upstream)
	if u != nil && rawDialable(s.c) {
		var stop func() bool
		opened := false
		if d.l4proxy.Start(u, &tcpproxy.StreamSpec{
			Addr: s.ep, Timeout: s.timeout, Header: s.hdr, Keepalive: l4Keepalive(s.c),
			Prefix: sc.Prefix, Idle: s.idle, Counter: s.dst.obs, Workers: sc.Workers,
			Dialed: func(err error) bool {
				if opened = s.dialed(err); opened {
					stop = maxDuration(s.c, &d.l4proxy, u, nil)
				}
				return opened
			},
			Done: func(res tcpproxy.Result) {
				if stop != nil {
					stop()
				}
				if opened {
					s.closed(res)
				}
				done()
			},
		}) {
			return
		}
	}
	sc.Workers.Go(func() bool {
		defer done()
		s.carry(sc)
		return true
	})
}

// decideStream picks the route of a new stream (by SNI for passthrough), a weighted
// destination, admits it against the destination's maxConnections, picks an endpoint
// (outlier detection may have ejected them all) and builds the upstream PROXY header.
// nil when refused: the refusal is counted and logged, and the caller closes the
// client.
func (d *Dataplane) decideStream(in streamInfo) *l4Stream {
	st := d.state.Load()
	ps := st.port(in.port)
	var srv *l4Server
	if ps != nil && ps.l4 != nil {
		srv = ps.l4.servers[in.server]
	}
	var rt *l4Route
	if srv != nil {
		rt = srv.route(in.sni)
	}
	if rt == nil || len(rt.dests) == 0 {
		d.refuseStream(in, refusedNoRoute)
		return nil
	}
	dst := rt.pick()
	c := dst.cluster
	if c == nil || len(c.Endpoints) == 0 {
		d.refuseStream(in, refusedNoEndpoints)
		return nil
	}
	if !d.l4proxy.Acquire(c.Name, dst.MaxConnections) {
		d.proxy.Overflow(c.Name, upstream.BreakerMaxConnections)
		d.refuseStream(in, refusedMaxConns)
		return nil
	}
	cl := st.clusters.Get(c.Name)
	ep, ok := cl.Pick(&upstream.Key{Src: in.remote.String()})
	if !ok { // every endpoint ejected by outlier detection
		d.l4proxy.Release(c.Name)
		d.refuseStream(in, refusedNoEndpoints)
		return nil
	}
	s := &l4Stream{d: d, info: in, rt: rt, dst: dst, c: c, cl: cl, ep: ep,
		timeout: time.Duration(dst.ConnectTimeoutMillis) * time.Millisecond,
		idle:    time.Duration(dst.IdleTimeoutMillis) * time.Millisecond}
	if pp := c.ProxyProtocol; pp != nil {
		var err error
		if s.hdr, err = proxyHeader(pp, in.remote, in.localAddr(), in.tc, in.sni); err != nil { // proxyproto.go
			d.logger.Debug("proxy protocol header", "cluster", c.Name, "error", err)
			d.l4proxy.Release(c.Name)
			d.refuseStream(in, refusedConnect)
			return nil
		}
	}
	return s
}

// refuseStream counts and logs a refused stream. Counted before the caller closes the
// client, so whoever sees the close also sees the count.
func (d *Dataplane) refuseStream(in streamInfo, reason string) {
	if so, ok := d.obs.(StreamObserver); ok {
		so.StreamRefused(reason)
	}
	d.logger.Debug("stream refused", "port", in.port.port, "bind", in.port.bind, "sni", in.sni, "reason", reason, "remote", in.remote.String())
}

// dialed takes the outcome of the upstream connect (reported to outlier detection):
// false when it failed, the stream then refused and its slot released.
func (s *l4Stream) dialed(err error) bool {
	if err == tcpproxy.ErrAborted { // closed before the connect completed: no outcome
		s.d.l4proxy.Release(s.c.Name)
		return false
	}
	s.cl.Report(s.ep, 0, l4Result(err))
	if err != nil {
		s.d.logger.Debug("upstream connect failed", "cluster", s.c.Name, "endpoint", s.ep, "error", err)
		s.d.refuseStream(s.info, refusedConnect)
		s.d.l4proxy.Release(s.c.Name)
		return false
	}
	s.dst.obs.Opened()
	return true
}

// closed accounts for the end of a stream whose connections are closed.
func (s *l4Stream) closed(res tcpproxy.Result) {
	s.dst.obs.Closed()
	if s.d.logger.Enabled(context.Background(), slog.LevelDebug) {
		s.d.logger.Debug("stream closed", "route", s.rt.name, "cluster", s.c.Name, "endpoint", s.ep,
			"received", res.Received, "sent", res.Sent, "idle_timeout", res.Idle)
	}
	s.d.l4proxy.Release(s.c.Name)
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

// remoteOf is the stream's downstream address (a downstream PROXY header's when one
// was accepted).
func remoteOf(sc listener.StreamConn) net.Addr {
	if sc.Remote != nil {
		return sc.Remote
	}
	return sc.Conn.RemoteAddr()
}

type nopCounter struct{}

func (nopCounter) Opened()        {}
func (nopCounter) Closed()        {}
func (nopCounter) Received(int64) {}
func (nopCounter) Sent(int64)     {}
