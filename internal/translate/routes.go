package translate

import (
	"fmt"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// compiledRoute is one http[] rule (or, when its matches carry statPrefixes, one match of
// it), ready to be placed on servers.
type compiledRoute struct {
	route snapshot.Route
	// scopes parallels route.Match when some match restricts port, gateways or source;
	// nil otherwise.
	scopes   []matchScope
	clusters []string
	// redirectPort: the redirect's port depends on the server (derivePort
	// FROM_REQUEST_PORT, or Istio dropping a port that is the scheme's default).
	redirectPort bool
	derivePort   bool
}

// forServer returns the route as it applies on si: matches scoped to other ports, gateways
// or sources are left out, and a rule none of whose matches apply is skipped (as Istio
// generates no route for it).
func (cr *compiledRoute) forServer(si *serverInfo) (snapshot.Route, bool) {
	r := cr.route
	if cr.scopes != nil {
		var ms []snapshot.Match
		for i, sc := range cr.scopes {
			if sc.applies(si) {
				ms = append(ms, cr.route.Match[i])
			}
		}
		if len(ms) == 0 {
			return snapshot.Route{}, false
		}
		r.Match = ms
	}
	if cr.redirectPort && r.Redirect != nil {
		rd := *r.Redirect
		if cr.derivePort {
			rd.Port = si.port
		}
		scheme := rd.Scheme
		if scheme == "" {
			scheme = "http"
			if si.tls != nil {
				scheme = "https"
			}
		}
		// As Istio: no explicit :80 for http or :443 for https.
		if (rd.Port == 80 && scheme == "http") || (rd.Port == 443 && scheme == "https") {
			rd.Port = 0
		}
		r.Redirect = &rd
	}
	return r, true
}

func (t *translator) compileRoutes(f *findings, vs *resources.VirtualService, rules []*networking.HTTPRoute, fieldBase string) []*compiledRoute {
	var out []*compiledRoute
	names := map[string]int{}
	for i, r := range rules {
		if r != nil && r.Name != "" {
			if j, dup := names[r.Name]; dup {
				f.warnf(fmt.Sprintf("%s[%d].name", fieldBase, i), "rule name %q is also used by %s[%d]; route names should be unique", r.Name, fieldBase, j)
			} else {
				names[r.Name] = i
			}
		}
		base := fmt.Sprintf("%s[%d]", fieldBase, i)
		if r != nil && r.Delegate != nil && fieldBase == "spec.http" {
			out = append(out, t.delegate(f, vs, base, i, r)...)
			continue
		}
		out = append(out, t.compileRule(f, vs, base, i, r, nil)...)
	}
	return out
}

// failOutcome ends the message of every error that makes a rule fail closed.
// (failClosedStatus is 500.)
const failOutcome = "; the rule fails closed: requests it matches get 500, never a later rule"

// compileRule converts one rule. A rule that cannot be honoured as written is kept in its
// place failing closed (snapshot.Fail, 500): the requests it matches never reach a later
// rule. Conditions of its matches that cannot be evaluated are treated as matching, so the
// failing rule catches at least every request it might have matched. Problems resolving a
// destination keep the rule, pointing at an endpoint-less cluster (503).
func (t *translator) compileRule(f *findings, vs *resources.VirtualService, base string, i int, r *networking.HTTPRoute, pre findings) []*compiledRoute {
	cr := t.compileOne(f, vs, base, i, r, pre)
	if r == nil {
		return []*compiledRoute{cr}
	}
	return splitByStatPrefix(cr, r)
}

func (t *translator) compileOne(f *findings, vs *resources.VirtualService, base string, i int, r *networking.HTTPRoute, pre findings) *compiledRoute {
	rf := pre
	name := strconv.Itoa(i)
	if r != nil && r.Name != "" {
		name = r.Name
	}
	cr := &compiledRoute{route: snapshot.Route{Name: vs.Namespace + "/" + vs.Name + "/" + name}}
	defer func() {
		for k := range rf {
			if rf[k].sev != diag.Error {
				continue
			}
			if cr.route.Fail == nil {
				cr.route.Fail = &snapshot.Fail{
					Status: failClosedStatus,
					Body:   fmt.Sprintf("portcullis: rule %s is not served: %s: %s\n", cr.route.Name, rf[k].field, rf[k].msg),
					Flag:   snapshot.FailFlag,
				}
				cr.route.Forward, cr.route.Redirect, cr.route.Direct, cr.clusters = nil, nil, nil, nil
				cr.route.Fault, cr.route.CORS = nil, nil
			}
			if strings.Contains(rf[k].field, ".match[") {
				rf[k].msg += "; the condition is treated as matching"
			}
			rf[k].msg += failOutcome
		}
		*f = append(*f, rf...)
	}()
	if r == nil {
		rf.errorf(base, "empty rule")
		return cr
	}
	checkWire(&rf, base, r)
	t.compileMatches(&rf, base, vs, r, cr)
	rejectedFields(&rf, base, r.ProtoReflect())

	if r.Delegate != nil {
		rf.errorf(base+".delegate", "delegate is only valid in a VirtualService bound to a gateway, delegating to one without hosts and gateways")
	}

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
		cr.route.Redirect = redirect(&rf, base+".redirect", r.Redirect, cr)
	case r.DirectResponse != nil:
		cr.route.Direct = directResponse(&rf, base+".directResponse", r.DirectResponse)
	}
	t.compilePolicies(f, &rf, base, vs, r, cr) // timeout, retries, fault, mirrors, corsPolicy
	if len(r.Route) == 0 {
		if r.Rewrite != nil {
			rf.errorf(base+".rewrite", "rewrite requires route destinations")
		}
		// Response headers apply to redirects and direct responses as Envoy applies
		// route-level response headers to them; request headers have no request to act
		// on (no effect, as in Envoy).
		if h := r.Headers; h != nil {
			resp, _ := headerOps(&rf, base+".headers.response", h.Response)
			switch {
			case cr.route.Redirect != nil:
				cr.route.Redirect.ResponseHeaders = resp
			case cr.route.Direct != nil:
				cr.route.Direct.ResponseHeaders = resp
			}
		}
	}
	return cr
}

// splitByStatPrefix: Istio makes one Envoy route per match, each with its match's
// statPrefix. A rule whose matches carry statPrefixes becomes one route per match here
// too (in order, so first-match-wins is unchanged); other rules stay one route.
func splitByStatPrefix(cr *compiledRoute, r *networking.HTTPRoute) []*compiledRoute {
	split := false
	for _, m := range r.Match {
		split = split || m.GetStatPrefix() != ""
	}
	if !split || len(cr.route.Match) != len(r.Match) {
		return []*compiledRoute{cr}
	}
	out := make([]*compiledRoute, len(r.Match))
	for k, m := range r.Match {
		c := *cr
		c.route.Match = cr.route.Match[k : k+1 : k+1]
		c.route.StatPrefix = m.GetStatPrefix()
		if cr.scopes != nil {
			c.scopes = cr.scopes[k : k+1 : k+1]
		}
		out[k] = &c
	}
	return out
}

func (t *translator) compileMatches(rf *findings, base string, vs *resources.VirtualService, r *networking.HTTPRoute, cr *compiledRoute) {
	restricted := false
	var scopes []matchScope
	for j, m := range r.Match {
		mm, sc, res := t.compileMatch(rf, fmt.Sprintf("%s.match[%d]", base, j), m, vs.Namespace)
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
	var ruleReq, ruleResp *snapshot.HeaderOps
	ruleAuthority := ""
	if h := r.Headers; h != nil {
		ruleReq, ruleAuthority = headerOps(rf, base+".headers.request", h.Request)
		ruleResp, _ = headerOps(rf, base+".headers.response", h.Response)
	}
	fw.RequestHeaders, fw.ResponseHeaders = ruleReq, ruleResp
	if rw := r.Rewrite; rw != nil {
		fw.Rewrite = rewrite(rf, base+".rewrite", rw)
	}
	if ruleAuthority != "" && (fw.Rewrite == nil || fw.Rewrite.Authority == "") {
		if fw.Rewrite == nil {
			fw.Rewrite = &snapshot.Rewrite{}
		}
		fw.Rewrite.Authority = ruleAuthority // Istio: rewrite.authority wins over a Host header op
	}
	single := len(r.Route) == 1
	eachWeighted(t, f, rf, base, vs, r.Route, func(df string, d *networking.HTTPRouteDestination, name string, w uint32) {
		wc := snapshot.WeightedCluster{Cluster: name, Weight: w}
		if name == "" { // failBackend
			wc.Fail = &snapshot.Fail{Status: failClosedStatus, Flag: snapshot.FailFlag, Body: fmt.Sprintf(
				"portcullis: rule %s: this share of its requests goes to a backendRef that cannot be used (see the route's status)\n", cr.route.Name)}
			fw.Clusters = append(fw.Clusters, wc)
			return
		}
		if h := d.Headers; h != nil {
			t.destinationHeaders(rf, df+".headers", h, single, fw, &wc)
		}
		fw.Clusters = append(fw.Clusters, wc)
		cr.clusters = append(cr.clusters, name)
	})
	return fw
}

// destinationHeaders composes a destination's header operations with the rule's, in the
// order Istio's Envoy configuration applies them: with a single destination Istio appends
// the destination's after the rule's (the destination's set wins); with weighted
// destinations they are Envoy weighted-cluster headers, applied before the route's (the
// rule's set wins). The destination's Host/:authority set rewrites the authority: with a
// single destination only when the rule sets none, with several it wins (as Envoy's
// cluster-level host rewrite does).
func (t *translator) destinationHeaders(rf *findings, field string, h *networking.Headers, single bool, fw *snapshot.Forward, wc *snapshot.WeightedCluster) {
	req, authority := headerOps(rf, field+".request", h.Request)
	resp, _ := headerOps(rf, field+".response", h.Response)
	compose := func(sub string, rule, dest *snapshot.HeaderOps) *snapshot.HeaderOps {
		first, second := dest, rule
		if single {
			first, second = rule, dest
		}
		ops, err := composeOps(first, second)
		if err != nil {
			rf.errorf(field+"."+sub, "%v", err)
		}
		return ops
	}
	wc.RequestHeaders = compose("request", fw.RequestHeaders, req)
	wc.ResponseHeaders = compose("response", fw.ResponseHeaders, resp)
	ruleAuthority := ""
	if fw.Rewrite != nil {
		ruleAuthority = fw.Rewrite.Authority
	}
	switch {
	case authority == "":
	case !single:
		wc.Authority = authority
	case ruleAuthority == "":
		wc.Authority = authority
	}
}

// composeOps returns the single HeaderOps (applied Remove, Set, Add) equivalent to applying
// a then b. Both adding the same header cannot be expressed (Add holds one value per name)
// and is an error.
func composeOps(a, b *snapshot.HeaderOps) (*snapshot.HeaderOps, error) {
	switch {
	case a == nil:
		return b, nil
	case b == nil:
		return a, nil
	}
	overridden := map[string]bool{}
	for _, n := range b.Remove {
		overridden[n] = true
	}
	for n := range b.Set {
		overridden[n] = true
	}
	out := &snapshot.HeaderOps{}
	out.Remove = append(append(out.Remove, a.Remove...), b.Remove...)
	put := func(m *map[string]string, k, v string) {
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
	}
	for _, k := range sortedKeys(a.Set) {
		if !overridden[k] {
			put(&out.Set, k, a.Set[k])
		}
	}
	for _, k := range sortedKeys(b.Set) {
		put(&out.Set, k, b.Set[k])
	}
	for _, k := range sortedKeys(a.Add) {
		if !overridden[k] {
			put(&out.Add, k, a.Add[k])
		}
	}
	for _, k := range sortedKeys(b.Add) {
		if _, both := out.Add[k]; both {
			return out, fmt.Errorf("header %s is added by both the rule and the destination; portcullis cannot apply both additions yet", k)
		}
		put(&out.Add, k, b.Add[k])
	}
	out.Remove = sortUniqueOrNil(out.Remove)
	return out, nil
}

func sortUniqueOrNil(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return sortUnique(l)
}

// rewrite converts HTTPRewrite: uri (prefix semantics) or uriRegexRewrite, and authority.
func rewrite(rf *findings, field string, rw *networking.HTTPRewrite) *snapshot.Rewrite {
	out := &snapshot.Rewrite{URI: rw.Uri, Authority: rw.Authority}
	if rr := rw.UriRegexRewrite; rr != nil {
		if rw.Uri != "" {
			rf.errorf(field+".uriRegexRewrite", "uri and uriRegexRewrite cannot both be set")
		}
		if _, err := regexp.Compile(rr.Match); err != nil || rr.Match == "" {
			rf.errorf(field+".uriRegexRewrite.match", "regex %q does not compile as RE2 (or is empty)", rr.Match)
		}
		checkURI(rf, field+".uriRegexRewrite.rewrite", rr.Rewrite)
		out.Regex, out.Substitution = rr.Match, rr.Rewrite
	}
	if *out == (snapshot.Rewrite{}) {
		return nil
	}
	return out
}

// headerOps canonicalises header names; nil when there is nothing to do. As Istio, a set or
// add of "host" or ":authority" becomes the authority (returned; set wins over add) and is
// not a header operation, and pseudo-headers and Host are never removed.
func headerOps(rf *findings, field string, h *networking.Headers_HeaderOperations) (*snapshot.HeaderOps, string) {
	if h == nil || (len(h.Set) == 0 && len(h.Add) == 0 && len(h.Remove) == 0) {
		return nil, ""
	}
	authority := ""
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
			if strings.EqualFold(k, "host") || strings.EqualFold(k, ":authority") {
				if sub == "set" || authority == "" {
					authority = m[k]
				}
				continue
			}
			ck := textproto.CanonicalMIMEHeaderKey(k)
			if _, dup := out[ck]; dup {
				rf.warnf(fmt.Sprintf("%s.%s[%s]", field, sub, k), "header %s is set twice (names are case-insensitive); this value wins", ck)
			}
			out[ck] = m[k]
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	ops := &snapshot.HeaderOps{Add: canon("add", h.Add)}
	ops.Set = canon("set", h.Set)
	for k, n := range h.Remove {
		if n == "" {
			rf.errorf(fmt.Sprintf("%s.remove[%d]", field, k), "empty header name")
			continue
		}
		if strings.HasPrefix(n, ":") || strings.EqualFold(n, "host") {
			continue // Istio drops removals of internal headers
		}
		ops.Remove = append(ops.Remove, textproto.CanonicalMIMEHeaderKey(n))
	}
	if ops.Set == nil && ops.Add == nil && ops.Remove == nil {
		return nil, authority
	}
	return ops, authority
}

// redirect converts HTTPRedirect as Istio's ApplyRedirect does. The port may depend on the
// server (cr.redirectPort, resolved in forServer).
func redirect(rf *findings, field string, r *networking.HTTPRedirect, cr *compiledRoute) *snapshot.Redirect {
	out := &snapshot.Redirect{Scheme: r.Scheme, Authority: r.Authority, URI: r.Uri, PrefixRewrite: r.PrefixRewrite, Code: int(r.RedirectCode)}
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
	if r.Uri != "" && r.PrefixRewrite != "" {
		rf.errorf(field+".prefixRewrite", "uri and prefixRewrite cannot both be set")
	}
	checkURI(rf, field+".prefixRewrite", r.PrefixRewrite)
	switch p := r.RedirectPort.(type) {
	case *networking.HTTPRedirect_Port:
		if p.Port > 65535 {
			rf.errorf(field+".port", "port %d is not in 1-65535", p.Port)
		}
		out.Port = p.Port
		cr.redirectPort = true
	case *networking.HTTPRedirect_DerivePort:
		// FROM_PROTOCOL_DEFAULT sets no port (Envoy's default); FROM_REQUEST_PORT the
		// server's port, as Istio does (it builds routes per listener port).
		cr.redirectPort = true
		cr.derivePort = p.DerivePort == networking.HTTPRedirect_FROM_REQUEST_PORT
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

// weightedDestination is an http route destination or an L4 one.
type weightedDestination interface {
	GetDestination() *networking.Destination
	GetWeight() int32
}

// eachWeighted checks a rule's weighted destinations as Istio validates them (each needs a
// destination and a non-negative weight; a single destination takes all traffic whatever
// its weight says; the weights of several sum to 100), resolves each destination and calls
// fn with every one whose weight is not 0: df is its field path, name its cluster.
func eachWeighted[D weightedDestination](t *translator, f, rf *findings, base string, vs *resources.VirtualService, route []D, fn func(df string, d D, name string, w uint32)) {
	total := int64(0)
	for j, d := range route {
		df := fmt.Sprintf("%s.route[%d]", base, j)
		if d.GetDestination() == nil {
			rf.errorf(df+".destination", "destination is required")
			continue
		}
		if d.GetWeight() < 0 {
			rf.errorf(df+".weight", "weight %d is negative", d.GetWeight())
			continue
		}
		w := int64(d.GetWeight())
		if len(route) == 1 {
			w = 100
		}
		total += w
		if failBackend(vs, d.GetDestination()) {
			if w > 0 {
				fn(df, d, "", uint32(w)) // no cluster: this share answers 500
			}
			continue
		}
		name, ok := t.destination(f, rf, df+".destination", vs, d.GetDestination())
		if !ok || w == 0 {
			continue
		}
		fn(df, d, name, uint32(w))
	}
	if len(route) > 1 && total != 100 {
		rf.errorf(base+".route", "destination weights sum to %d, want 100", total)
	}
}

// failBackend: d is the Gateway API's unusable backendRef (resources.FailBackendHost) in a
// VirtualService derived from the Gateway API; its share of requests answers 500.
func failBackend(vs *resources.VirtualService, d *networking.Destination) bool {
	return d.GetHost() == resources.FailBackendHost && strings.HasPrefix(vs.APIVersion, gatewayAPIGroup+"/")
}

// gatewayAPIGroup is the apiVersion group of the VirtualServices internal/gatewayapi derives.
const gatewayAPIGroup = "gateway.networking.k8s.io"
