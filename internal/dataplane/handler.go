package dataplane

import (
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/dataplane/router"
)

// handler serves the requests of one gateway listener.
func (d *Dataplane) handler(port listenKey) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		e := d.exchanges.get(w)
		logged := d.requests() != nil || d.opts.Tracer != nil
		if logged {
			r = d.prepareLog(e, r) // requestlog.go
		}
		// Deferred so the request is observed even when ReverseProxy aborts a response
		// mid-body (it panics with http.ErrAbortHandler, which the server handles).
		defer d.finish(e, r, start, logged)
		d.serveHTTP(e, r, port)
	})
}

// finish observes a request and recycles its exchange.
func (d *Dataplane) finish(e *exchange, r *http.Request, start time.Time, logged bool) {
	obs := e.obs
	if obs == nil {
		obs = d.noVirtualHost
	}
	dur := time.Since(start)
	obs.Observe(e.status(), dur)
	if e.routeObs != nil {
		e.routeObs.Observe(e.status(), dur)
	}
	if logged {
		d.logRequest(e, r, start, dur) // requestlog.go
	}
	d.exchanges.put(e)
}

// serveHTTP routes and answers one request against the state loaded once, here. It sets
// e.obs to the observer of the matched virtual host.
func (d *Dataplane) serveHTTP(e *exchange, r *http.Request, port listenKey) {
	var w http.ResponseWriter = &e.statusRecorder
	st := d.state.Load()
	ps := st.port(port)
	if ps == nil { // port removed while this connection drains
		w.Header().Set("Connection", "close")
		http.Error(w, "listener is shutting down", http.StatusServiceUnavailable)
		return
	}
	table, ok := ps.table(r)
	if !ok {
		http.Error(w, "misdirected request", http.StatusMisdirectedRequest)
		return
	}
	if p := router.NormalizePath(r.URL.Path); p != r.URL.Path {
		r = withPath(r, p)
	}
	if st.authz != nil { // jwt_authn then RBAC, before routing (as Envoy's filter chain)
		var ok bool
		if r, ok = st.authz.Check(w, r, port.port); !ok {
			return
		}
	}
	res := table.Match(r.Host, r)
	if res.VirtualHost != nil {
		e.obs = st.observers[res.VirtualHost.Name]
	}
	rt := res.Route
	e.route = rt
	if rt != nil && rt.StatPrefix != "" {
		e.routeObs = st.observers[routeStatName(rt.StatPrefix)]
	}
	if rt != nil && rt.Fail == nil && (rt.CORS != nil || rt.Fault != nil) { // route filters (cors.go, fault.go)
		if w = d.filters(e, r, rt); w == nil {
			return
		}
	}
	switch {
	case rt == nil:
		e.flags |= FlagNoRouteFound
		http.NotFound(w, r)
	case rt.Fail != nil:
		e.flags |= FlagFailClosed
		fail(w, rt.Fail)
	case rt.Redirect != nil:
		redirect(w, r, rt.Redirect, res.Match)
	case rt.Direct != nil:
		direct(w, rt.Direct)
	case rt.Forward != nil:
		d.forward(w, r, st, res, e)
	default:
		http.NotFound(w, r)
	}
}

func (st *state) port(port listenKey) *portState {
	if st == nil {
		return nil
	}
	return st.ports[port]
}

// table returns the route table a request may use (Host/SNI binding). On TLS ports that
// is the table of the server the handshake selected; a Host owned by another server is
// served only when both servers' TLS policies are identical (then a fresh connection
// would have been accepted exactly alike), otherwise ok is false: 421. A connection whose
// server disappeared, whose client certificate the server's changed client-auth policy no
// longer accepts (listener.Conn.Admitted), or a plain connection left over from before the
// port switched to TLS, is also answered 421.
func (ps *portState) table(r *http.Request) (t *router.Table, ok bool) {
	if ps.tls == nil {
		return ps.routes[0], true
	}
	c := listener.ConnFromContext(r.Context())
	if c == nil || r.TLS == nil || c.Server() == nil {
		return nil, false
	}
	cur := ps.tls.Server(c.Server().Name)
	if !c.Admitted(cur, r.TLS) {
		return nil, false
	}
	t, _, ok = ps.bind(cur, r.Host)
	return t, ok
}

// bind is the Host/SNI binding of a request for host on a connection served by cur: the
// route table to use, and the server owning host (nil when none does). Shared with
// Explain (explain.go).
func (ps *portState) bind(cur *listener.Server, host string) (t *router.Table, owner *listener.Server, ok bool) {
	owner = ps.tls.Lookup(host)
	switch {
	case owner == nil || owner == cur:
		return ps.routes[cur.Index], owner, true
	case owner.Policy == cur.Policy:
		return ps.routes[owner.Index], owner, true
	}
	return nil, owner, false
}

// withPath returns a shallow copy of r with a normalized path (handlers must not modify
// the request they were given).
func withPath(r *http.Request, p string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = p, ""
	r2.URL = &u
	return r2
}
