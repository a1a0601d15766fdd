package dataplane

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/portcullis/portcullis/internal/authz/engine"
	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/dataplane/router"
	"github.com/portcullis/portcullis/internal/explain"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Explain explains q against the state being served and the current credentials. It
// walks the steps serveHTTP takes, with the same code: the listener's SNI table and
// client-certificate verifier, the Host/SNI binding (portState.bind), the authz engine,
// the route table (MatchTrace, the same walk as Match), the route filters and actions,
// the clusters. Nothing is sent upstream and no metric is counted but the authz
// engine's decision counters (the engine counts every decision it makes).
func (d *Dataplane) Explain(q *explain.Query) *explain.Decision {
	return d.explain(d.state.Load(), q)
}

// ExplainSnapshot explains q against snap as Update would serve it (its runtime is built
// the same way, without binding any port), with credentials creds and authz runtime az.
func ExplainSnapshot(snap *snapshot.Snapshot, creds Credentials, az *engine.Runtime, q *explain.Query) (*explain.Decision, error) {
	d := New(Options{Authz: az}, creds, nil, nil)
	st, err := buildState(snap, d.creds, d.tickets(), d.obs, slog.New(slog.DiscardHandler))
	if err == nil {
		st.authz, err = compileAuthz(az, snap.Security)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot %s rejected: %w", snap.Version, err)
	}
	return d.explain(st, q), nil
}

func (d *Dataplane) explain(st *state, q *explain.Query) *explain.Decision {
	r := q.Request
	dec := &explain.Decision{Request: explain.Request{
		Method: r.Method, Host: r.Host, Path: r.URL.Path, SNI: q.SNI,
		Port: q.Port, Header: r.Header,
	}}
	if q.TLS {
		dec.Request.URL = "https://" + r.Host + r.URL.RequestURI()
	} else {
		dec.Request.URL = "http://" + r.Host + r.URL.RequestURI()
	}
	if len(q.ClientChain) > 0 {
		dec.Request.ClientCert = explain.CertOf(q.ClientChain[0])
	}
	end := func(outcome string, status int, format string, a ...any) *explain.Decision {
		dec.Outcome, dec.Status, dec.Summary = outcome, status, fmt.Sprintf(format, a...)
		return dec
	}
	if st == nil {
		return end(explain.OutcomeNoListener, 0, "no configuration is being served: nothing listens")
	}
	dec.Snapshot = st.snap.Version
	ps := st.explainPort(q)
	if ps == nil {
		return end(explain.OutcomeNoListener, 0, "no listener for Gateway port %d: connection refused", q.Port)
	}
	l := ps.listener
	dec.Listener = &explain.Listener{Name: l.Name, Port: l.Port, Protocol: string(l.Protocol)}
	var table *router.Table
	if ps.tls == nil {
		if q.TLS {
			return end(explain.OutcomeNotTLS, 0, "port %d serves plain HTTP: the TLS handshake fails", q.Port)
		}
		dec.Server = &explain.Server{Match: "plain", Why: "plain-HTTP port: every server's hosts share one route table"}
		table = ps.routes[0]
	} else {
		if !q.TLS {
			return end(explain.OutcomeNotTLS, http.StatusBadRequest, "port %d serves TLS: a plain HTTP request gets 400 and the connection closes", q.Port)
		}
		srv := ps.tls.Lookup(q.SNI)
		dec.Server = explainServer(l, srv, q.SNI)
		if srv == nil {
			return end(explain.OutcomeHandshake, 0, "handshake refused: no server accepts SNI %q (%s)", q.SNI, listener.ReasonUnknownSNI)
		}
		snapSrv := &l.Servers[srv.Index]
		dec.Credential = explainCredential(snapSrv, d.creds, srv)
		if !srv.Ready() {
			return end(explain.OutcomeHandshake, 0, "handshake refused: server %s cannot terminate TLS (%s)", srv.Name, srv.Failure())
		}
		ca := explainClientAuth(snapSrv, d.creds, q)
		dec.ClientAuth = ca
		if err := srv.Admit(&tls.ConnectionState{PeerCertificates: q.ClientChain}); err != nil {
			ca.Reason = err.Error()
			return end(explain.OutcomeHandshake, 0, "handshake refused by server %s: %s", srv.Name, err)
		}
		ca.Accepted = true
		t, owner, ok := ps.bind(srv, r.Host)
		dec.Binding = explainBinding(r.Host, srv, owner, ok)
		if !ok {
			return end(explain.OutcomeResponse, http.StatusMisdirectedRequest, "421 Misdirected Request: Host %q belongs to server %s, the connection to %s", r.Host, owner.Name, srv.Name)
		}
		table = t
	}
	if p := router.NormalizePath(r.URL.Path); p != r.URL.Path {
		r = withPath(r, p)
		dec.Request.Path = p
	}
	dec.Authz = &explain.Authz{Enforced: st.authz != nil, Allowed: true}
	if st.authz != nil {
		ad, r2 := st.authz.Decide(r, q.Port)
		dec.Authz.Allowed, dec.Authz.Status, dec.Authz.Policy, dec.Authz.Reason = ad.Allowed, ad.Status, ad.Policy, ad.Reason
		if !ad.Allowed {
			return end(explain.OutcomeResponse, ad.Status, "%d: denied by authorization (%s)", ad.Status, strings.TrimSpace(ad.Policy+" "+ad.Reason))
		}
		r = r2
	}
	res, trace := table.MatchTrace(r.Host, r)
	rg := &explain.Routing{}
	dec.Routing = rg
	if res.VirtualHost == nil {
		return end(explain.OutcomeResponse, http.StatusNotFound, "404: no virtual host claims Host %q", r.Host)
	}
	rg.VirtualHost = res.VirtualHost.Name
	for _, t := range trace {
		rg.Routes = append(rg.Routes, explain.Rule{Name: t.Route.Name, Selected: t.Selected, Clauses: t.Clauses})
	}
	rt := res.Route
	if rt == nil {
		return end(explain.OutcomeResponse, http.StatusNotFound, "404: no rule of %s matches", res.VirtualHost.Name)
	}
	rg.Route, rg.Match = rt.Name, res.Match
	return d.explainAction(dec, st, r, res, end)
}

// explainAction explains the chosen route's filters and action, as serveHTTP runs them.
func (d *Dataplane) explainAction(dec *explain.Decision, st *state, r *http.Request, res router.Result, end func(string, int, string, ...any) *explain.Decision) *explain.Decision {
	rt := res.Route
	act := &explain.Action{Fault: rt.Fault, CORS: rt.CORS}
	dec.Action = act
	if rt.Fail != nil { // a rule that cannot be honoured: its answer, before any filter
		act.Kind = "fail-closed"
		return end(explain.OutcomeResponse, rt.Fail.Status, "%d: rule %s cannot be honoured and fails closed (flag %s): %s", rt.Fail.Status, rt.Name, rt.Fail.Flag, strings.TrimSpace(rt.Fail.Body))
	}
	if rt.CORS != nil {
		e := &exchange{}
		e.ResponseWriter = &recorder{h: http.Header{}}
		if d.cors(e, r, rt.CORS) {
			act.Kind = "cors-preflight"
			return end(explain.OutcomeResponse, e.code, "%d: CORS preflight answered by the rule's corsPolicy", e.code)
		}
	}
	if f := rt.Fault; f != nil {
		if f.Delay != nil {
			dec.Notes = append(dec.Notes, fmt.Sprintf("fault: %d per million requests are delayed %d ms", f.Delay.Fraction, f.Delay.DelayMillis))
		}
		if ab := f.Abort; ab != nil {
			if ab.Fraction >= snapshot.Million && ab.GRPCStatus < 0 {
				act.Kind = "fault-abort"
				return end(explain.OutcomeResponse, ab.HTTPStatus, "%d: the rule's fault injection aborts every request", ab.HTTPStatus)
			}
			dec.Notes = append(dec.Notes, fmt.Sprintf("fault: %d per million requests are aborted", ab.Fraction))
		}
	}
	rec := &recorder{h: http.Header{}}
	switch {
	case rt.Redirect != nil:
		act.Kind, act.Redirect = "redirect", rt.Redirect
		redirect(rec, r, rt.Redirect, res.Match)
		act.Location = rec.h.Get("Location")
		return end(explain.OutcomeResponse, rec.code, "%d redirect to %s (rule %s)", rec.code, act.Location, rt.Name)
	case rt.Direct != nil:
		act.Kind, act.Direct = "direct", rt.Direct
		return end(explain.OutcomeResponse, rt.Direct.Status, "%d direct response (rule %s)", rt.Direct.Status, rt.Name)
	case rt.Forward != nil:
		return explainForward(dec, act, st, r, res, end)
	}
	act.Kind = "none"
	return end(explain.OutcomeResponse, http.StatusNotFound, "404: rule %s has no action", rt.Name)
}

func explainForward(dec *explain.Decision, act *explain.Action, st *state, r *http.Request, res router.Result, end func(string, int, string, ...any) *explain.Decision) *explain.Decision {
	f := res.Route.Forward
	act.Kind = "forward"
	act.Rewrite, act.RequestHeaders, act.ResponseHeaders = f.Rewrite, f.RequestHeaders, f.ResponseHeaders
	act.TimeoutMillis, act.Retry, act.Mirrors = f.TimeoutMillis, f.Retry, f.Mirrors
	if act.Retry == nil {
		act.Retry = &snapshot.DefaultRetry
	}
	if f.Rewrite != nil {
		act.UpstreamPath = res.RewritePath(r.URL.Path)
	}
	dst := &explain.Destination{}
	dec.Destination = dst
	var weight, empty uint32
	var names []string
	for _, wc := range f.Clusters {
		if wc.Fail != nil { // an unusable Gateway API backendRef: its share answers 500
			if len(f.Clusters) == 1 {
				return end(explain.OutcomeResponse, wc.Fail.Status, "%d: rule %s fails closed (flag %s): %s", wc.Fail.Status, res.Route.Name, wc.Fail.Flag, strings.TrimSpace(wc.Fail.Body))
			}
			dec.Notes = append(dec.Notes, fmt.Sprintf("weight %d answers %d (fails closed): %s", wc.Weight, wc.Fail.Status, strings.TrimSpace(wc.Fail.Body)))
			continue
		}
		cl := st.clusters.Get(wc.Cluster)
		eps := cl.Endpoints()
		dst.Clusters = append(dst.Clusters, explain.Cluster{Name: wc.Cluster, Weight: wc.Weight, Found: cl != nil, Endpoints: append([]string{}, eps...)})
		w := wc.Weight
		if len(f.Clusters) == 1 {
			w = 100
		}
		weight += w
		if len(eps) == 0 {
			empty += w
		}
		names = append(names, wc.Cluster)
	}
	switch {
	case weight == 0 || empty == weight:
		return end(explain.OutcomeResponse, http.StatusServiceUnavailable, "503 no healthy upstream: %s has no endpoints", strings.Join(names, ", "))
	case empty > 0:
		dec.Notes = append(dec.Notes, fmt.Sprintf("%d%% of requests pick a cluster without endpoints and get 503", empty*100/weight))
	}
	return end(explain.OutcomeForward, 0, "forwarded by rule %s to %s; the upstream's response is returned", res.Route.Name, strings.Join(names, ", "))
}

// explainServer describes how sni selected srv (listener.Table.Lookup chose it).
func explainServer(l *snapshot.Listener, srv *listener.Server, sni string) *explain.Server {
	if srv == nil {
		var all []string
		for _, s := range l.Servers {
			all = append(all, s.Hosts...)
		}
		return &explain.Server{Match: "none", Hosts: all, Why: fmt.Sprintf("SNI %q matches no host of the listener's servers", sni)}
	}
	hosts := l.Servers[srv.Index].Hosts
	name := strings.TrimSuffix(strings.ToLower(router.HostName(sni)), ".")
	out := &explain.Server{Name: srv.Name, Hosts: hosts, Match: "catch-all", Why: fmt.Sprintf("SNI %q matches host \"*\"", sni)}
	best := ""
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		switch {
		case h == name:
			out.Match, out.Why = "exact", fmt.Sprintf("SNI %q equals host %s", sni, h)
			return out
		case strings.HasPrefix(h, "*.") && strings.HasSuffix(name, h[1:]) && len(h) > len(best):
			best = h
		}
	}
	if best != "" {
		out.Match, out.Why = "wildcard", fmt.Sprintf("SNI %q matches host %s (longest wildcard)", sni, best)
	}
	return out
}

func explainCredential(srv *snapshot.Server, creds Credentials, s *listener.Server) *explain.Credential {
	if srv.TLS == nil {
		return &explain.Credential{Failure: s.Failure()}
	}
	out := &explain.Credential{Name: srv.TLS.Credential.Key(), Failure: s.Failure()}
	if creds == nil {
		return out
	}
	if c, ok := creds.Lookup(srv.TLS.Credential.Key()); ok && c.Certificate != nil {
		out.Version = c.Version
		leaf := c.Certificate.Leaf
		if leaf == nil && len(c.Certificate.Certificate) > 0 {
			leaf, _ = x509.ParseCertificate(c.Certificate.Certificate[0])
		}
		if leaf != nil {
			out.Serial, out.Subject, out.NotAfter = leaf.SerialNumber.Text(16), leaf.Subject.String(), leaf.NotAfter
		}
	}
	return out
}

func explainClientAuth(srv *snapshot.Server, creds Credentials, q *explain.Query) *explain.ClientAuth {
	t := srv.TLS
	ca := &explain.ClientAuth{Mode: string(t.Mode), SANs: t.SubjectAltNames, Presented: len(q.ClientChain) > 0}
	if creds != nil {
		if c, ok := creds.Lookup(t.Credential.Key()); ok {
			ca.CAFingerprint, ca.CRLs = c.CAFingerprint, len(c.CRLs)
		}
	}
	if ca.Mode == "" {
		ca.Mode = string(snapshot.TLSSimple)
	}
	ca.Reason = "no client certificate is requested"
	if t.Mode == snapshot.TLSMutual || t.Mode == snapshot.TLSOptionalMutual {
		ca.Reason = "no client certificate presented (OPTIONAL_MUTUAL allows it)"
		if ca.Presented {
			ca.Reason = "certificate chain verifies against the CA, subjectAltNames and CRLs allow it"
		}
	}
	return ca
}

func explainBinding(host string, cur, owner *listener.Server, ok bool) *explain.Binding {
	b := &explain.Binding{Host: host, Allowed: ok}
	if owner != nil {
		b.Owner = owner.Name
	}
	switch {
	case owner == nil:
		b.Why = fmt.Sprintf("no server owns Host %q: routed in %s's table", host, cur.Name)
	case owner == cur:
		b.Why = fmt.Sprintf("Host %q belongs to %s, the server the handshake selected", host, cur.Name)
	case ok:
		b.Why = fmt.Sprintf("Host %q belongs to %s, whose TLS policy is identical to %s's", host, owner.Name, cur.Name)
	default:
		b.Why = fmt.Sprintf("Host %q belongs to %s, whose TLS policy differs from %s's (the handshake's)", host, owner.Name, cur.Name)
	}
	return b
}

// recorder is a ResponseWriter that keeps what a local reply (redirect, CORS) would send.
type recorder struct {
	h    http.Header
	code int
}

func (w *recorder) Header() http.Header { return w.h }
func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// explainPort is the listener a query reaches: the one bound to the URL's host when that
// is an IP address some listener of the port binds, else the default listen host's.
func (st *state) explainPort(q *explain.Query) *portState {
	h := q.Request.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		if ps := st.port(listenKey{bind: a.Unmap().String(), port: q.Port}); ps != nil {
			return ps
		}
	}
	return st.port(listenKey{port: q.Port})
}
