package gatewayapi

import (
	"fmt"
	"regexp"

	networking "istio.io/api/networking/v1alpha3"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
)

// grpcRule translates a GRPCRoute rule: a method match is a path match on
// "/<service>/<method>"; the backends are reached over HTTP/2.
func (t *translator) grpcRule(r *route, i int, in *gwv1.GRPCRouteRule) []*rule {
	field := fmt.Sprintf("spec.rules[%d]", i)
	a := &action{base: &networking.HTTPRoute{}}
	if in.SessionPersistence != nil {
		a.fail = "sessionPersistence is not supported"
		r.diag(t, diag.Error, field+".sessionPersistence", "%s; the rule answers 500", a.fail)
	}
	for k := range in.Filters {
		f := httpFilter(&in.Filters[k])
		t.httpFilter(r, a, fmt.Sprintf("%s.filters[%d]", field, k), &f)
	}
	refs := make([]backendIn, len(in.BackendRefs))
	for k, br := range in.BackendRefs {
		refs[k] = backendIn{ref: br.BackendObjectReference, weight: br.Weight}
		for _, f := range br.Filters {
			refs[k].filters = append(refs[k].filters, httpFilter(&f))
		}
	}
	t.forward(r, a, field, refs, true)
	var ms []matchSpec
	for k := range in.Matches {
		ms = append(ms, t.grpcMatch(r, fmt.Sprintf("%s.matches[%d]", field, k), &in.Matches[k]))
	}
	if len(in.Matches) == 0 {
		ms = prefixMatches("/", nil)
	}
	return t.expand(r, i, ruleName(r, i, in.Name), a, ms)
}

// httpFilter is a GRPCRoute filter as the HTTPRoute filter of the same type.
func httpFilter(f *gwv1.GRPCRouteFilter) gwv1.HTTPRouteFilter {
	return gwv1.HTTPRouteFilter{
		Type:                   gwv1.HTTPRouteFilterType(f.Type),
		RequestHeaderModifier:  f.RequestHeaderModifier,
		ResponseHeaderModifier: f.ResponseHeaderModifier,
		RequestMirror:          f.RequestMirror,
		ExtensionRef:           f.ExtensionRef,
	}
}

func (t *translator) grpcMatch(r *route, field string, in *gwv1.GRPCRouteMatch) matchSpec {
	m := &networking.HTTPMatchRequest{}
	out := matchSpec{m: m}
	for k, h := range in.Headers {
		if m.Headers == nil {
			m.Headers = map[string]*networking.StringMatch{}
		}
		name := lower(h.Name)
		if _, dup := m.Headers[name]; dup {
			continue
		}
		sm, err := stringMatch(h.Type == nil || *h.Type == gwv1.GRPCHeaderMatchExact, h.Value)
		if err != "" {
			out.bad = err
			r.diag(t, diag.Error, fmt.Sprintf("%s.headers[%d].value", field, k), "%s; the rule answers 500", err)
		}
		m.Headers[name] = sm
	}
	// GRPCRoute precedence: the most characters of a matching service, then of a
	// matching method, then header matches (whatever the match type).
	out.prec = precedence{headers: len(m.Headers)}
	mm := in.Method
	if mm == nil || (mm.Service == nil && mm.Method == nil) {
		m.Uri = &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/"}}
		return out
	}
	svc, meth := "", ""
	if mm.Service != nil {
		svc = *mm.Service
	}
	if mm.Method != nil {
		meth = *mm.Method
	}
	out.prec.pathLen = len(svc)*grpcNameMax + len(meth)
	if mm.Type != nil && *mm.Type == gwv1.GRPCMethodMatchRegularExpression {
		s, me := svc, meth
		if s == "" {
			s = "[^/]+"
		}
		if me == "" {
			me = "[^/]+"
		}
		re := "/(?:" + s + ")/(?:" + me + ")" // each regex whole, alternations included
		if _, err := regexp.Compile(re); err != nil {
			out.bad = fmt.Sprintf("method regex %q does not compile as RE2", re)
			r.diag(t, diag.Error, field+".method", "%s; the rule answers 500", out.bad)
		}
		m.Uri = &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: re}}
		return out
	}
	switch {
	case svc != "" && meth != "":
		m.Uri = &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: "/" + svc + "/" + meth}}
	case svc != "":
		m.Uri = &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/" + svc + "/"}}
	default:
		m.Uri = &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: "/[^/]+/" + regexp.QuoteMeta(meth)}}
	}
	return out
}

// grpcNameMax exceeds the longest service or method name (the CRD's maxLength 1024), so
// that service characters outrank method characters in precedence.pathLen.
const grpcNameMax = 1025
