package dataplane

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/dataplane/router"
	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// forward proxies to the route's weighted cluster, round-robin over its endpoints. w is
// the exchange's statusRecorder, or its policyWriter when the route's CORS policy adds
// response headers. A route with retries (Istio's default has two) or mirrors goes through
// forwardPolicies (retry.go); one without them costs nothing more.
func (d *Dataplane) forward(w http.ResponseWriter, r *http.Request, st *state, res router.Result, e *exchange) {
	f := res.Route.Forward
	wc := res.Pick()
	if wc.Fail != nil { // a Gateway API backendRef that cannot be used: its share fails closed
		e.flags |= FlagFailClosed
		fail(w, wc.Fail)
		return
	}
	cl := st.clusters.Get(wc.Cluster)
	e.cluster = wc.Cluster
	k := d.pickKey(r)
	ep, ok := cl.Pick(&k)
	if !ok {
		e.flags |= FlagNoHealthyUpstream
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "no healthy upstream\n")
		return
	}
	t := &e.target
	*t = upstream.Target{
		Endpoint:        ep,
		Cluster:         cl,
		RequestHeaders:  f.RequestHeaders,
		ResponseHeaders: f.ResponseHeaders,
		SetCookie:       k.SetCookie,
	}
	if f.Rewrite != nil {
		t.Path = res.RewritePath(r.URL.Path)
		t.Authority = f.Rewrite.Authority
	}
	if wc.RequestHeaders != nil || wc.ResponseHeaders != nil || wc.Authority != "" {
		t.RequestHeaders, t.ResponseHeaders = wc.RequestHeaders, wc.ResponseHeaders
		if wc.Authority != "" {
			t.Authority = wc.Authority
		}
	}
	// Only a verified client certificate is forwarded; a client-supplied
	// X-Forwarded-Client-Cert is always removed. A certificate is present only on a
	// connection whose Server requests one, and then the handshake (or resumption)
	// completed only because the Server's verifier accepted its chain against the CAs.
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if c := listener.ConnFromContext(r.Context()); c != nil && c.Server() != nil && c.Server().VerifiesClients() {
			t.ClientCert = c.ClientCertHeader(r.TLS.PeerCertificates[0], upstream.ClientCertHeader)
		}
	}
	timeout := routeTimeout(r, f)
	pol := f.Retry
	if pol == nil {
		pol = &snapshot.DefaultRetry
	}
	if pol.Retries > 0 || len(f.Mirrors) > 0 {
		e.policy.rec = &e.statusRecorder
		d.forwardPolicies(&e.policy, r, st, f, pol, cl, &k, t, timeout)
		return
	}
	defer func() { reportAttempt(cl, ep, e.statusRecorder.flags, e.statusRecorder.code) }()
	if timeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	d.proxy.Forward(w, r, t)
}

// redirect answers with an Istio HTTPRedirect. Unset parts keep the request's; a scheme
// change drops the old port unless a port is given (as Envoy does); the query string is
// kept unless the redirect URI carries its own.
func redirect(w http.ResponseWriter, r *http.Request, rd *snapshot.Redirect, m *snapshot.Match) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host, port := splitHostPort(r.Host)
	if rd.Scheme != "" && !strings.EqualFold(rd.Scheme, scheme) {
		scheme, port = strings.ToLower(rd.Scheme), ""
	}
	if rd.Authority != "" {
		host, port = splitHostPort(rd.Authority)
	}
	if rd.Port != 0 {
		port = strconv.FormatUint(uint64(rd.Port), 10)
	}
	uri := r.URL.RequestURI()
	switch {
	case rd.URI != "":
		uri = rd.URI
		if r.URL.RawQuery != "" && !strings.Contains(uri, "?") {
			uri += "?" + r.URL.RawQuery
		}
	case rd.PrefixRewrite != "":
		// The match saw the decoded path; rewrite that, then escape it for Location.
		uri = (&url.URL{Path: router.RewritePath(r.URL.Path, m, rd.PrefixRewrite)}).EscapedPath()
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
	}
	if port != "" {
		host += ":" + port
	}
	code := rd.Code
	if code == 0 {
		code = http.StatusMovedPermanently
	}
	upstream.ApplyHeaderOps(w.Header(), rd.ResponseHeaders)
	w.Header().Set("Location", scheme+"://"+host+uri)
	w.WriteHeader(code)
}

// splitHostPort splits "host[:port]" (IPv6 literals keep their brackets).
func splitHostPort(hp string) (host, port string) {
	host = router.HostName(hp)
	if len(host) < len(hp) && hp[len(host)] == ':' {
		port = hp[len(host)+1:]
	}
	return host, port
}

// fail answers for a rule that fails closed (snapshot.Fail).
func fail(w http.ResponseWriter, f *snapshot.Fail) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}

// direct answers with an Istio directResponse.
func direct(w http.ResponseWriter, dr *snapshot.Direct) {
	if dr.Body != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	upstream.ApplyHeaderOps(w.Header(), dr.ResponseHeaders)
	w.WriteHeader(dr.Status)
	_, _ = io.WriteString(w, dr.Body)
}
