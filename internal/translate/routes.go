package translate

import (
	"fmt"
	"net/textproto"
	"strconv"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// compiledRoute is one http[] rule, ready to be placed on servers.
type compiledRoute struct {
	route snapshot.Route
	// scopes parallels route.Match when some match restricts port or gateways; nil otherwise.
	scopes   []matchScope
	clusters []string
}

// forServer returns the route as it applies on si: matches scoped to other ports or gateways
// are left out, and a rule none of whose matches apply is skipped.
func (cr *compiledRoute) forServer(si *serverInfo) (snapshot.Route, bool) {
	if cr.scopes == nil {
		return cr.route, true
	}
	var ms []snapshot.Match
	for i, sc := range cr.scopes {
		if sc.applies(si) {
			ms = append(ms, cr.route.Match[i])
		}
	}
	if len(ms) == 0 {
		return snapshot.Route{}, false
	}
	r := cr.route
	r.Match = ms
	return r, true
}

func (t *translator) compileRoutes(f *findings, vs *resources.VirtualService) []*compiledRoute {
	var out []*compiledRoute
	names := map[string]int{}
	for i, r := range vs.Spec.Http {
		if r != nil && r.Name != "" {
			if j, dup := names[r.Name]; dup {
				f.warnf(fmt.Sprintf("spec.http[%d].name", i), "rule name %q is also used by spec.http[%d]; route names should be unique", r.Name, j)
			} else {
				names[r.Name] = i
			}
		}
		if cr := t.compileRule(f, vs, i, r); cr != nil {
			out = append(out, cr)
		}
	}
	return out
}

// compileRule converts one rule. Problems with the rule itself drop it (reported with
// "rule dropped"); problems resolving a destination keep it, pointing at an endpoint-less
// cluster (503), so later rules never catch traffic meant for this one.
func (t *translator) compileRule(f *findings, vs *resources.VirtualService, i int, r *networking.HTTPRoute) *compiledRoute {
	base := fmt.Sprintf("spec.http[%d]", i)
	var rf findings
	outcome := "; rule dropped"
	defer func() {
		for k := range rf {
			if rf[k].sev == diag.Error {
				rf[k].msg += outcome
			}
		}
		*f = append(*f, rf...)
	}()
	if r == nil {
		rf.errorf(base, "empty rule")
		return nil
	}
	name := r.Name
	if name == "" {
		name = strconv.Itoa(i)
	}
	cr := &compiledRoute{route: snapshot.Route{Name: vs.Namespace + "/" + vs.Name + "/" + name}}
	if unsafe, inMatch := checkWire(&rf, base, r); unsafe {
		matchesAll := t.failClosed(&rf, base, vs, r, cr, inMatch)
		outcome = fmt.Sprintf("; rule not served: the requests it matches get %d, never a later rule", failClosedStatus)
		if matchesAll {
			outcome = fmt.Sprintf("; rule not served: its matches are unusable, so every request reaching it gets %d, never a later rule", failClosedStatus)
		}
		return cr
	}

	if r.Delegate != nil {
		rf.errorf(base+".delegate", "delegate is not supported yet")
	}
	ignored := func(field string, set bool) {
		if set {
			rf.warnf(base+"."+field, "%s is not supported yet; ignored", field)
		}
	}

	t.compileMatches(&rf, base, vs, r, cr)

	actions := 0
	for _, set := range []bool{len(r.Route) > 0, r.Redirect != nil, r.DirectResponse != nil} {
		if set {
			actions++
		}
	}
	switch {
	case actions == 0 && r.Delegate == nil:
		rf.errorf(base, "rule needs one of route, redirect or directResponse")
	case actions > 1:
		rf.errorf(base, "only one of route, redirect and directResponse may be set")
	case len(r.Route) > 0:
		cr.route.Forward = t.forward(f, &rf, base, vs, r, cr)
	case r.Redirect != nil:
		cr.route.Redirect = redirect(&rf, base+".redirect", r.Redirect)
	case r.DirectResponse != nil:
		cr.route.Direct = directResponse(&rf, base+".directResponse", r.DirectResponse)
	}
	t.compilePolicies(f, &rf, base, vs, r, cr) // timeout, retries, fault, mirrors, corsPolicy
	if len(r.Route) == 0 {
		if r.Rewrite != nil {
			rf.errorf(base+".rewrite", "rewrite requires route destinations")
		}
		ignored("headers", r.Headers != nil)
	}
	if rf.hasError() {
		return nil
	}
	return cr
}

func (t *translator) compileMatches(rf *findings, base string, vs *resources.VirtualService, r *networking.HTTPRoute, cr *compiledRoute) {
	restricted := false
	var scopes []matchScope
	for j, m := range r.Match {
		mm, sc, res := compileMatch(rf, fmt.Sprintf("%s.match[%d]", base, j), m, vs.Namespace)
		cr.route.Match = append(cr.route.Match, mm)
		scopes = append(scopes, sc)
		restricted = restricted || res
	}
	if restricted {
		cr.scopes = scopes
	}
}

func (t *translator) forward(f, rf *findings, base string, vs *resources.VirtualService, r *networking.HTTPRoute, cr *compiledRoute) *snapshot.Forward {
	fw := &snapshot.Forward{Clusters: []snapshot.WeightedCluster{}}
	total := int64(0)
	for j, d := range r.Route {
		df := fmt.Sprintf("%s.route[%d]", base, j)
		if d == nil || d.Destination == nil {
			rf.errorf(df+".destination", "destination is required")
			continue
		}
		if d.Weight < 0 {
			rf.errorf(df+".weight", "weight %d is negative", d.Weight)
			continue
		}
		w := int64(d.Weight)
		if len(r.Route) == 1 {
			w = 100 // a single destination takes all traffic, whatever its weight says
		}
		total += w
		if d.Headers != nil {
			rf.warnf(df+".headers", "per-destination headers are not supported yet; ignored (use the rule's headers)")
		}
		name, ok := t.destination(f, rf, df+".destination", vs, d.Destination)
		if !ok || w == 0 {
			continue
		}
		fw.Clusters = append(fw.Clusters, snapshot.WeightedCluster{Cluster: name, Weight: uint32(w)})
		cr.clusters = append(cr.clusters, name)
	}
	if len(r.Route) > 1 && total != 100 {
		rf.errorf(base+".route", "destination weights sum to %d, want 100", total)
	}
	if rw := r.Rewrite; rw != nil {
		if rw.UriRegexRewrite != nil {
			rf.errorf(base+".rewrite.uriRegexRewrite", "uriRegexRewrite is not supported yet")
		}
		if rw.Uri != "" || rw.Authority != "" {
			fw.Rewrite = &snapshot.Rewrite{URI: rw.Uri, Authority: rw.Authority}
		}
	}
	if h := r.Headers; h != nil {
		fw.RequestHeaders = headerOps(rf, base+".headers.request", h.Request)
		fw.ResponseHeaders = headerOps(rf, base+".headers.response", h.Response)
	}
	return fw
}

// headerOps canonicalises header names; nil when there is nothing to do.
func headerOps(rf *findings, field string, h *networking.Headers_HeaderOperations) *snapshot.HeaderOps {
	if h == nil || (len(h.Set) == 0 && len(h.Add) == 0 && len(h.Remove) == 0) {
		return nil
	}
	canon := func(sub string, m map[string]string) map[string]string {
		if len(m) == 0 {
			return nil
		}
		out := make(map[string]string, len(m))
		for _, k := range sortedKeys(m) { // sorted: which of two colliding spellings wins is stable
			if k == "" {
				rf.errorf(field+"."+sub, "empty header name")
				continue
			}
			ck := textproto.CanonicalMIMEHeaderKey(k)
			if _, dup := out[ck]; dup {
				rf.warnf(fmt.Sprintf("%s.%s[%s]", field, sub, k), "header %s is set twice (names are case-insensitive); this value wins", ck)
			}
			out[ck] = m[k]
		}
		return out
	}
	ops := &snapshot.HeaderOps{Set: canon("set", h.Set), Add: canon("add", h.Add)}
	for k, n := range h.Remove {
		if n == "" {
			rf.errorf(fmt.Sprintf("%s.remove[%d]", field, k), "empty header name")
			continue
		}
		ops.Remove = append(ops.Remove, textproto.CanonicalMIMEHeaderKey(n))
	}
	return ops
}

func redirect(rf *findings, field string, r *networking.HTTPRedirect) *snapshot.Redirect {
	out := &snapshot.Redirect{Scheme: r.Scheme, Authority: r.Authority, URI: r.Uri, Code: int(r.RedirectCode)}
	if out.Code == 0 {
		out.Code = 301
	}
	switch out.Code {
	case 301, 302, 303, 307, 308:
	default:
		rf.errorf(field+".redirectCode", "redirectCode %d is not a redirect status (301, 302, 303, 307, 308)", r.RedirectCode)
	}
	switch out.Scheme {
	case "", "http", "https":
	default:
		rf.errorf(field+".scheme", "scheme %q is not http or https", r.Scheme)
	}
	switch p := r.RedirectPort.(type) {
	case *networking.HTTPRedirect_Port:
		if p.Port > 65535 {
			rf.errorf(field+".port", "port %d is not in 1-65535", p.Port)
		}
		out.Port = p.Port
	case *networking.HTTPRedirect_DerivePort:
		rf.errorf(field+".derivePort", "derivePort is not supported yet")
	}
	if r.PrefixRewrite != "" {
		rf.errorf(field+".prefixRewrite", "prefixRewrite is not supported yet")
	}
	return out
}

func directResponse(rf *findings, field string, d *networking.HTTPDirectResponse) *snapshot.Direct {
	out := &snapshot.Direct{Status: int(d.Status)}
	if d.Status < 200 || d.Status > 599 {
		rf.errorf(field+".status", "status %d is not in 200-599", d.Status)
	}
	if d.Body != nil {
		switch b := d.Body.Specifier.(type) {
		case *networking.HTTPBody_String_:
			out.Body = b.String_
		case *networking.HTTPBody_Bytes:
			out.Body = string(b.Bytes)
		}
	}
	return out
}
