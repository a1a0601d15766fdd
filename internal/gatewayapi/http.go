package gatewayapi

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// rule is one derived Istio http[] entry with its Gateway API precedence.
type rule struct {
	http *networking.HTTPRoute
	prec precedence
	r    *route
}

// precedence orders rules as the Gateway API requires across and within routes.
type precedence struct {
	pathKind       int // 0 exact, 1 regex, 2 prefix
	pathLen        int
	method         bool
	headers        int
	queries        int
	ruleIdx, match int
}

func less(a, b *rule) bool {
	pa, pb := a.prec, b.prec
	switch {
	case pa.pathKind != pb.pathKind:
		return pa.pathKind < pb.pathKind
	case pa.pathLen != pb.pathLen:
		return pa.pathLen > pb.pathLen
	case pa.method != pb.method:
		return pa.method
	case pa.headers != pb.headers:
		return pa.headers > pb.headers
	case pa.queries != pb.queries:
		return pa.queries > pb.queries
	case a.r != b.r:
		return olderFirst(a.r.meta, b.r.meta)
	case pa.ruleIdx != pb.ruleIdx:
		return pa.ruleIdx < pb.ruleIdx
	}
	return pa.match < pb.match
}

// vsBuild collects the rules of one listener and host.
type vsBuild struct {
	l     *listener
	host  string
	rules []*rule
}

func (t *translator) addRules(r *route, rules []*rule) {
	for _, a := range r.attachments() {
		for _, h := range a.hosts {
			k := a.l.istioKey() + "|" + h
			vb := t.vs[k]
			if vb == nil {
				vb = &vsBuild{l: a.l, host: h}
				t.vs[k] = vb
				t.vsKey = append(t.vsKey, k)
			}
			vb.rules = append(vb.rules, rules...)
		}
	}
}

// translateRoutes translates every route kind.
func (t *translator) translateRoutes() {
	t.vs = map[string]*vsBuild{}
	g := &t.in.GatewayAPI
	for i := range g.HTTPRoutes {
		o := &g.HTTPRoutes[i]
		addRules(t, t.newRoute("HTTPRoute", &o.ObjectMeta, o.Source, &o.Spec.CommonRouteSpec, o.Spec.Hostnames), o.Spec.Rules, t.httpRule)
	}
	for i := range g.GRPCRoutes {
		o := &g.GRPCRoutes[i]
		addRules(t, t.newRoute("GRPCRoute", &o.ObjectMeta, o.Source, &o.Spec.CommonRouteSpec, o.Spec.Hostnames), o.Spec.Rules, t.grpcRule)
	}
	t.kindConflicts()
	t.l4Routes()
}

// kindConflicts: HTTPRoutes and GRPCRoutes must not share a hostname on a listener
// (GEP-1016). Where they do, the oldest route (then namespace/name) keeps the listener;
// the routes of the other kind are detached from it, and a parent left with no listener
// is not accepted (reason HostnameConflict, as the listener condition of that name).
func (t *translator) kindConflicts() {
	type onListener struct {
		r *route
		l *listener
	}
	refused := map[onListener]*route{} // -> the route that keeps the listener
	var order []onListener
	for _, k := range t.vsKey {
		vb := t.vs[k]
		var oldest *route
		kinds := map[string]bool{}
		for _, x := range vb.rules {
			kinds[x.r.kind] = true
			if oldest == nil || olderFirst(x.r.meta, oldest.meta) {
				oldest = x.r
			}
		}
		if !kinds["HTTPRoute"] || !kinds["GRPCRoute"] {
			continue
		}
		for _, x := range vb.rules {
			if k := (onListener{x.r, vb.l}); x.r.kind != oldest.kind && refused[k] == nil {
				refused[k] = oldest
				order = append(order, k)
			}
		}
	}
	for _, k := range t.vsKey {
		vb := t.vs[k]
		vb.rules = slices.DeleteFunc(vb.rules, func(x *rule) bool { return refused[onListener{x.r, vb.l}] != nil })
	}
	for _, k := range order {
		w := refused[k]
		msg := fmt.Sprintf("%s %s shares a hostname with it on listener %s and is older: an HTTPRoute and a GRPCRoute cannot share a hostname on a listener",
			w.kind, objKey(w.meta), k.l.name())
		k.r.diag(t, diag.Error, "spec.hostnames", "%s; this route is detached from that listener", msg)
		for _, p := range k.r.parents {
			n := len(p.attached)
			p.attached = slices.DeleteFunc(p.attached, func(a attachment) bool { return a.l == k.l })
			if len(p.attached) < n {
				k.l.attached--
			}
			if n > 0 && len(p.attached) == 0 {
				p.acceptReason, p.acceptMsg = "HostnameConflict", msg
			}
		}
	}
}

// addRules translates the rules of r (nil: not ours) and adds them where it attached.
func addRules[R any](t *translator, r *route, rules []R, translate func(*route, int, *R) []*rule) {
	if r == nil {
		return
	}
	var out []*rule
	for k := range rules {
		out = append(out, translate(r, k, &rules[k])...)
	}
	t.addRules(r, out)
}

// newRoute attaches a route of any kind to our Gateways; nil when no parentRef is ours.
func (t *translator) newRoute(kind string, m *metav1.ObjectMeta, src resources.Source, common *gwv1.CommonRouteSpec, hostnames []gwv1.Hostname) *route {
	r := &route{kind: kind, meta: m, src: src, common: common, hostnames: hostnames}
	t.attach(r)
	if len(r.parents) == 0 {
		return nil
	}
	t.routes = append(t.routes, r)
	return r
}

// action is what a rule does, shared by its matches.
type action struct {
	base    *networking.HTTPRoute // route, redirect, rewrite, headers, mirrors, cors, timeout
	fail    string                // non-empty: the rule answers 500 with this reason
	rewrite *gwv1.HTTPURLRewriteFilter
	redir   *gwv1.HTTPRequestRedirectFilter
}

// ruleName names a rule in the snapshot: "<kind>/<ns>/<name>/rules[i]" (or the rule's name).
func ruleName(r *route, i int, name *gwv1.SectionName) string {
	n := fmt.Sprintf("rules[%d]", i)
	if name != nil {
		n = string(*name)
	}
	return fmt.Sprintf("%s/%s/%s/%s", strings.ToLower(r.kind), r.meta.Namespace, r.meta.Name, n)
}

func (t *translator) httpRule(r *route, i int, in *gwv1.HTTPRouteRule) []*rule {
	field := fmt.Sprintf("spec.rules[%d]", i)
	a := &action{base: &networking.HTTPRoute{}}
	if in.Retry != nil {
		a.fail = "retry is not supported yet"
		r.diag(t, diag.Error, field+".retry", "%s; the rule answers 500", a.fail)
	}
	if in.SessionPersistence != nil {
		a.fail = "sessionPersistence is not supported"
		r.diag(t, diag.Error, field+".sessionPersistence", "%s; the rule answers 500", a.fail)
	}
	for k := range in.Filters {
		t.httpFilter(r, a, fmt.Sprintf("%s.filters[%d]", field, k), &in.Filters[k])
	}
	if to := in.Timeouts; to != nil {
		if to.Request != nil {
			if d, ok := t.duration(r, field+".timeouts.request", string(*to.Request)); ok {
				a.base.Timeout = durationpb.New(d)
			}
		}
		if to.BackendRequest != nil {
			if d, ok := t.duration(r, field+".timeouts.backendRequest", string(*to.BackendRequest)); ok && d > 0 {
				// Istio's default retry policy, each attempt bounded by backendRequest.
				a.base.Retries = &networking.HTTPRetry{Attempts: 2, PerTryTimeout: durationpb.New(d),
					RetryOn: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"}
			}
		}
	}
	refs := make([]backendIn, len(in.BackendRefs))
	for k, br := range in.BackendRefs {
		refs[k] = backendIn{ref: br.BackendObjectReference, weight: br.Weight, filters: br.Filters}
	}
	t.forward(r, a, field, refs, false)
	var matches []matchSpec
	for k := range in.Matches {
		matches = append(matches, t.httpMatch(r, fmt.Sprintf("%s.matches[%d]", field, k), &in.Matches[k])...)
	}
	if len(in.Matches) == 0 {
		matches = append(matches, prefixMatches("/", nil)...)
	}
	return t.expand(r, i, ruleName(r, i, in.Name), a, matches)
}

// matchSpec is one derived Istio match with its precedence and path facts.
type matchSpec struct {
	m      *networking.HTTPMatchRequest
	prec   precedence
	prefix string // the Gateway API PathPrefix value (normalized) for prefix-derived matches
	exact  bool   // the match is on an exact path (ReplacePrefixMatch replaces it whole)
	bad    string // the match cannot be honoured
}

// prefixMatches: a Gateway API PathPrefix matches whole path elements: "/foo" matches
// "/foo" and "/foo/..." but not "/foobar". It becomes an exact and a prefix match.
func prefixMatches(p string, base *networking.HTTPMatchRequest) []matchSpec {
	p = strings.TrimSuffix(p, "/")
	mk := func(sm *networking.StringMatch) *networking.HTTPMatchRequest {
		m := &networking.HTTPMatchRequest{}
		if base != nil {
			m = cloneMatch(base)
		}
		m.Uri = sm
		return m
	}
	n := len(p)
	if p == "" {
		return []matchSpec{{m: mk(&networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/"}}), prec: precedence{pathKind: 2, pathLen: 1}, prefix: "/"}}
	}
	return []matchSpec{
		{m: mk(&networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: p}}), prec: precedence{pathKind: 2, pathLen: n}, prefix: p, exact: true},
		{m: mk(&networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: p + "/"}}), prec: precedence{pathKind: 2, pathLen: n}, prefix: p},
	}
}

func cloneMatch(m *networking.HTTPMatchRequest) *networking.HTTPMatchRequest {
	c := &networking.HTTPMatchRequest{Method: m.Method, Headers: map[string]*networking.StringMatch{}, QueryParams: map[string]*networking.StringMatch{}}
	for k, v := range m.Headers {
		c.Headers[k] = v
	}
	for k, v := range m.QueryParams {
		c.QueryParams[k] = v
	}
	return c
}

func (t *translator) httpMatch(r *route, field string, in *gwv1.HTTPRouteMatch) []matchSpec {
	base := &networking.HTTPMatchRequest{Headers: map[string]*networking.StringMatch{}, QueryParams: map[string]*networking.StringMatch{}}
	bad := ""
	for k, h := range in.Headers {
		name := lower(h.Name)
		if _, dup := base.Headers[name]; dup {
			continue // the first match of a name wins
		}
		sm, err := stringMatch(h.Type == nil || *h.Type == gwv1.HeaderMatchExact, h.Value)
		if err != "" {
			bad = err
			r.diag(t, diag.Error, fmt.Sprintf("%s.headers[%d].value", field, k), "%s; the rule answers 500", err)
		}
		base.Headers[name] = sm
	}
	for k, q := range in.QueryParams {
		name := string(q.Name)
		if _, dup := base.QueryParams[name]; dup {
			continue
		}
		sm, err := stringMatch(q.Type == nil || *q.Type == gwv1.QueryParamMatchExact, q.Value)
		if err != "" {
			bad = err
			r.diag(t, diag.Error, fmt.Sprintf("%s.queryParams[%d].value", field, k), "%s; the rule answers 500", err)
		}
		base.QueryParams[name] = sm
	}
	if in.Method != nil {
		base.Method = &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: string(*in.Method)}}
	}
	var out []matchSpec
	typ, val := gwv1.PathMatchPathPrefix, "/"
	if in.Path != nil {
		if in.Path.Type != nil {
			typ = *in.Path.Type
		}
		if in.Path.Value != nil {
			val = *in.Path.Value
		}
	}
	switch typ {
	case gwv1.PathMatchExact:
		m := cloneMatch(base)
		m.Uri = &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: val}}
		out = []matchSpec{{m: m, prec: precedence{pathKind: 0, pathLen: len(val)}, exact: true}}
	case gwv1.PathMatchRegularExpression:
		if _, err := regexp.Compile(val); err != nil {
			bad = fmt.Sprintf("path regex %q does not compile as RE2", val)
			r.diag(t, diag.Error, field+".path.value", "%s; the rule answers 500", bad)
		}
		m := cloneMatch(base)
		m.Uri = &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: val}}
		out = []matchSpec{{m: m, prec: precedence{pathKind: 1, pathLen: len(val)}}}
	default:
		out = prefixMatches(val, base)
	}
	for k := range out {
		out[k].prec.method = in.Method != nil
		out[k].prec.headers = len(base.Headers)
		out[k].prec.queries = len(base.QueryParams)
		out[k].bad = bad
		if len(out[k].m.Headers) == 0 {
			out[k].m.Headers = nil
		}
		if len(out[k].m.QueryParams) == 0 {
			out[k].m.QueryParams = nil
		}
	}
	return out
}

func stringMatch(exact bool, v string) (*networking.StringMatch, string) {
	if exact {
		return &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: v}}, ""
	}
	if _, err := regexp.Compile(v); err != nil {
		return nil, fmt.Sprintf("regex %q does not compile as RE2", v)
	}
	return &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: v}}, ""
}

// expand makes one Istio http[] entry per match, applying the path-dependent parts of the
// action (rewrite and redirect of a prefix).
func (t *translator) expand(r *route, ruleIdx int, name string, a *action, ms []matchSpec) []*rule {
	var out []*rule
	for j, ms := range ms {
		h := cloneHTTP(a.base)
		h.Name = fmt.Sprintf("%s/%d", name, j)
		h.Match = []*networking.HTTPMatchRequest{ms.m}
		fail := a.fail
		if fail == "" && ms.bad != "" {
			fail = ms.bad
		}
		if fail == "" {
			fail = applyPath(h, a, ms)
		}
		if fail != "" {
			h = &networking.HTTPRoute{Name: h.Name, Match: h.Match, DirectResponse: &networking.HTTPDirectResponse{
				Status: 500, Body: &networking.HTTPBody{Specifier: &networking.HTTPBody_String_{String_: name + ": " + fail + "\n"}},
			}}
		}
		p := ms.prec
		p.ruleIdx, p.match = ruleIdx, j
		out = append(out, &rule{http: h, prec: p, r: r})
	}
	return out
}

func cloneHTTP(b *networking.HTTPRoute) *networking.HTTPRoute {
	return proto.Clone(b).(*networking.HTTPRoute)
}

// applyPath sets the path parts of URLRewrite and RequestRedirect for one match.
func applyPath(h *networking.HTTPRoute, a *action, ms matchSpec) string {
	if rw := a.rewrite; rw != nil {
		h.Rewrite = &networking.HTTPRewrite{}
		if rw.Hostname != nil {
			h.Rewrite.Authority = string(*rw.Hostname)
		}
		if p := rw.Path; p != nil {
			switch {
			case p.Type == gwv1.FullPathHTTPPathModifier && p.ReplaceFullPath != nil && ms.exact:
				h.Rewrite.Uri = *p.ReplaceFullPath
			case p.Type == gwv1.FullPathHTTPPathModifier && p.ReplaceFullPath != nil:
				h.Rewrite.UriRegexRewrite = &networking.RegexRewrite{Match: "^.*$", Rewrite: *p.ReplaceFullPath}
			case p.Type == gwv1.PrefixMatchHTTPPathModifier && p.ReplacePrefixMatch != nil && ms.prefix != "":
				h.Rewrite.Uri = prefixReplacement(*p.ReplacePrefixMatch, ms.exact)
			default:
				return "URLRewrite ReplacePrefixMatch requires a PathPrefix match"
			}
		}
	}
	if rd := a.redir; rd != nil {
		out := &networking.HTTPRedirect{RedirectCode: 302}
		if rd.StatusCode != nil {
			out.RedirectCode = uint32(*rd.StatusCode)
		}
		if rd.Scheme != nil {
			out.Scheme = *rd.Scheme
		}
		if rd.Hostname != nil {
			out.Authority = string(*rd.Hostname)
		}
		switch {
		case rd.Port != nil:
			out.RedirectPort = &networking.HTTPRedirect_Port{Port: uint32(*rd.Port)}
		case rd.Scheme != nil:
			// The well-known port of the scheme (none written in Location).
			out.RedirectPort = &networking.HTTPRedirect_DerivePort{DerivePort: networking.HTTPRedirect_FROM_PROTOCOL_DEFAULT}
		default:
			// The listener's port.
			out.RedirectPort = &networking.HTTPRedirect_DerivePort{DerivePort: networking.HTTPRedirect_FROM_REQUEST_PORT}
		}
		if p := rd.Path; p != nil {
			switch {
			case p.Type == gwv1.FullPathHTTPPathModifier && p.ReplaceFullPath != nil:
				out.Uri = *p.ReplaceFullPath
			case p.Type == gwv1.PrefixMatchHTTPPathModifier && p.ReplacePrefixMatch != nil && ms.prefix != "" && ms.exact:
				out.Uri = prefixReplacement(*p.ReplacePrefixMatch, true)
			case p.Type == gwv1.PrefixMatchHTTPPathModifier && p.ReplacePrefixMatch != nil && ms.prefix != "":
				out.PrefixRewrite = prefixReplacement(*p.ReplacePrefixMatch, false)
			default:
				return "RequestRedirect ReplacePrefixMatch requires a PathPrefix match"
			}
		}
		h.Redirect = out
		h.Route = nil
	}
	return ""
}

// prefixReplacement: the replacement of the matched prefix. The derived prefix match
// covers "<prefix>/", so the replacement keeps one separating slash.
func prefixReplacement(v string, exact bool) string {
	if exact {
		return v
	}
	if strings.HasSuffix(v, "/") {
		return v
	}
	return v + "/"
}

func (t *translator) duration(r *route, field, v string) (time.Duration, bool) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.diag(t, diag.Error, field, "duration %q is not valid; ignored", v)
		return 0, false
	}
	return d, true
}

func headerOps(f *gwv1.HTTPHeaderFilter) *networking.Headers_HeaderOperations {
	ops := &networking.Headers_HeaderOperations{}
	for _, h := range f.Set {
		if ops.Set == nil {
			ops.Set = map[string]string{}
		}
		ops.Set[string(h.Name)] = h.Value
	}
	for _, h := range f.Add {
		if ops.Add == nil {
			ops.Add = map[string]string{}
		}
		ops.Add[string(h.Name)] = h.Value
	}
	ops.Remove = append(ops.Remove, f.Remove...)
	return ops
}

// httpFilter applies one rule-level filter to the action.
func (t *translator) httpFilter(r *route, a *action, field string, f *gwv1.HTTPRouteFilter) {
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if a.fail == "" {
			a.fail = msg
		}
		r.diag(t, diag.Error, field, "%s; the rule answers 500", msg)
	}
	headers := func() *networking.Headers {
		if a.base.Headers == nil {
			a.base.Headers = &networking.Headers{}
		}
		return a.base.Headers
	}
	switch f.Type {
	case gwv1.HTTPRouteFilterRequestHeaderModifier:
		if f.RequestHeaderModifier != nil {
			headers().Request = headerOps(f.RequestHeaderModifier)
		}
	case gwv1.HTTPRouteFilterResponseHeaderModifier:
		if f.ResponseHeaderModifier != nil {
			headers().Response = headerOps(f.ResponseHeaderModifier)
		}
	case gwv1.HTTPRouteFilterRequestRedirect:
		a.redir = f.RequestRedirect
	case gwv1.HTTPRouteFilterURLRewrite:
		a.rewrite = f.URLRewrite
	case gwv1.HTTPRouteFilterRequestMirror:
		m := f.RequestMirror
		if m == nil {
			return
		}
		d, reason, msg := t.backend(r, m.BackendRef)
		if reason != "" || d.Host == resources.FailBackendHost {
			if reason != "" {
				r.unresolved(reason, msg)
			}
			fail("mirror: %s", msg)
			return
		}
		hm := &networking.HTTPMirrorPolicy{Destination: d}
		switch {
		case m.Percent != nil:
			hm.Percentage = &networking.Percent{Value: float64(*m.Percent)}
		case m.Fraction != nil:
			den := int32(100)
			if m.Fraction.Denominator != nil {
				den = *m.Fraction.Denominator
			}
			if den > 0 {
				hm.Percentage = &networking.Percent{Value: float64(m.Fraction.Numerator) * 100 / float64(den)}
			}
		}
		a.base.Mirrors = append(a.base.Mirrors, hm)
	case gwv1.HTTPRouteFilterCORS:
		if f.CORS != nil {
			a.base.CorsPolicy = corsPolicy(f.CORS)
		}
	default:
		fail("filter type %s is not supported", f.Type)
	}
}

// corsPolicy maps the CORS filter onto Istio's corsPolicy. Origins with a "*" label
// become RE2 matches of one or more labels.
func corsPolicy(c *gwv1.HTTPCORSFilter) *networking.CorsPolicy {
	p := &networking.CorsPolicy{}
	for _, o := range c.AllowOrigins {
		s := string(o)
		if s == "*" || !strings.Contains(s, "*") {
			p.AllowOrigins = append(p.AllowOrigins, &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: s}})
			continue
		}
		re := strings.ReplaceAll(regexp.QuoteMeta(s), `\*`, `[^/]+`)
		p.AllowOrigins = append(p.AllowOrigins, &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: re}})
	}
	for _, m := range c.AllowMethods {
		p.AllowMethods = append(p.AllowMethods, string(m))
	}
	for _, h := range c.AllowHeaders {
		p.AllowHeaders = append(p.AllowHeaders, string(h))
	}
	for _, h := range c.ExposeHeaders {
		p.ExposeHeaders = append(p.ExposeHeaders, string(h))
	}
	if c.AllowCredentials != nil && *c.AllowCredentials {
		p.AllowCredentials = wrapperspb.Bool(true)
	}
	age := int32(5)
	if c.MaxAge != 0 {
		age = c.MaxAge
	}
	p.MaxAge = durationpb.New(time.Duration(age) * time.Second)
	return p
}

// sortedRules returns the rules of a VirtualService in precedence order.
func (vb *vsBuild) sortedRules() []*networking.HTTPRoute {
	sort.SliceStable(vb.rules, func(i, j int) bool { return less(vb.rules[i], vb.rules[j]) })
	out := make([]*networking.HTTPRoute, len(vb.rules))
	for i, r := range vb.rules {
		out[i] = r.http
	}
	return out
}
