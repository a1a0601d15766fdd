package translate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// matchScope restricts a match to some servers (match.port, match.gateways) or rules it out
// for this gateway altogether (sourceLabels/sourceNamespace that do not select it).
type matchScope struct {
	port     uint32   // 0 = any port
	gateways []string // "ns/name"; nil = any gateway
	never    bool     // the match does not apply to this gateway workload
}

func (sc matchScope) applies(si *serverInfo) bool {
	if sc.never || (sc.port != 0 && sc.port != si.port) {
		return false
	}
	return sc.gateways == nil || containsString(sc.gateways, si.gi.key)
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Unevaluable conditions. A condition portcullis cannot evaluate (a regex that does not
// compile, a JWT claim match, an empty header name, an unsafe string) is an error that
// makes the rule fail closed; the condition itself is then treated as matching (left out of
// the match), so the failing rule catches every request it might have matched — a superset,
// never fewer — and none of them reaches a later rule.

// compileMatch converts one HTTPMatchRequest. Errors in rf make the rule fail closed; the
// conditions they name are left out (treated as matching).
func (t *translator) compileMatch(rf *findings, base string, m *networking.HTTPMatchRequest, vsNamespace string) (snapshot.Match, matchScope, bool) {
	var out snapshot.Match
	var sc matchScope
	if m == nil {
		return out, sc, false
	}
	out.URI = unsafeValue(stringMatch(rf, base+".uri", m.Uri, false))
	out.Method = unsafeValue(stringMatch(rf, base+".method", m.Method, true))
	out.Authority = unsafeValue(stringMatch(rf, base+".authority", m.Authority, true))
	out.Scheme = unsafeValue(stringMatch(rf, base+".scheme", m.Scheme, true))
	if s := out.Scheme; s != nil && s.Kind == snapshot.Present {
		out.Scheme = nil // :scheme is always present
	}
	for _, sm := range []**snapshot.StringMatch{&out.Method, &out.Authority} {
		if *sm != nil && (*sm).Kind == snapshot.Present {
			*sm = nil // pseudo-headers are always present
		}
	}
	out.Headers = headerMatches(rf, base+".headers", m.Headers, true)
	out.WithoutHeaders = headerMatches(rf, base+".withoutHeaders", m.WithoutHeaders, true)
	out.QueryParams = headerMatches(rf, base+".queryParams", m.QueryParams, false)
	out.IgnoreURICase = m.IgnoreUriCase

	restricted := false
	if m.Port != 0 {
		sc.port = m.Port
		restricted = true
	}
	// As Istio's sourceMatchHTTP: gateways, when listed, decide alone; otherwise
	// sourceLabels must be a subset of this gateway's labels and sourceNamespace its
	// namespace.
	if len(m.Gateways) > 0 {
		restricted = true
		sc.gateways = []string{} // non-nil: only the listed gateways (possibly none, for "mesh")
		for _, g := range m.Gateways {
			if key, ok := resolveGatewayRef(g, vsNamespace); ok {
				sc.gateways = append(sc.gateways, key)
			}
		}
	} else if !labelsSubset(m.SourceLabels, t.opts.Labels) || (m.SourceNamespace != "" && m.SourceNamespace != t.opts.Namespace) {
		restricted, sc.never = true, true
	}
	return out, sc, restricted
}

func labelsSubset(sub, set map[string]string) bool {
	for k, v := range sub {
		if w, ok := set[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// stringMatch converts an Istio StringMatch; nil stays nil (no condition). An empty
// StringMatch ({}) and, for headers (header=true), the regex "*" are Istio's presence
// match (Present); on the URI an empty StringMatch is Istio's default prefix "/" (nil). A
// regex that does not compile is an error and no condition.
func stringMatch(rf *findings, field string, m *networking.StringMatch, header bool) *snapshot.StringMatch {
	if m == nil {
		return nil
	}
	switch v := m.MatchType.(type) {
	case *networking.StringMatch_Exact:
		return &snapshot.StringMatch{Kind: snapshot.Exact, Value: v.Exact}
	case *networking.StringMatch_Prefix:
		return &snapshot.StringMatch{Kind: snapshot.Prefix, Value: v.Prefix}
	case *networking.StringMatch_Regex:
		if header && v.Regex == "*" {
			return &snapshot.StringMatch{Kind: snapshot.Present}
		}
		if _, err := regexp.Compile(v.Regex); err != nil {
			rf.errorf(field+".regex", "regex %q does not compile as RE2: %v", v.Regex, err)
			return nil
		}
		return &snapshot.StringMatch{Kind: snapshot.Regex, Value: v.Regex}
	}
	if !header {
		return nil
	}
	return &snapshot.StringMatch{Kind: snapshot.Present}
}

// headerMatches converts a name->StringMatch map into a list sorted by name. Header names are
// lower-cased (HTTP header names are case-insensitive); query parameter names are not.
// Conditions that cannot be evaluated are errors and are left out.
func headerMatches(rf *findings, field string, m map[string]*networking.StringMatch, header bool) []snapshot.HeaderMatch {
	if len(m) == 0 {
		return nil
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]snapshot.HeaderMatch, 0, len(m))
	for _, n := range names {
		f := fmt.Sprintf("%s[%s]", field, quoteKey(n))
		switch {
		case n == "":
			rf.errorf(f, "empty name")
			continue
		case header && strings.HasPrefix(n, "@request.auth.claims"):
			rf.errorf(f, "JWT claim matching (%s) needs RequestAuthentication, which is not supported yet", n)
			continue
		case header && strings.HasPrefix(n, ":"):
			rf.errorf(f, "pseudo-header %s cannot be matched here; use uri, method, authority or scheme", n)
			continue
		case hasCRLFNUL(n) || (header && !httpguts.ValidHeaderFieldName(n)):
			continue // reported by checkWire
		}
		v := stringMatch(rf, f, m[n], true)
		if v == nil || (v.Kind != snapshot.Present && hasCRLFNUL(v.Value)) {
			continue
		}
		name := n
		if header {
			name = strings.ToLower(n)
		}
		out = append(out, snapshot.HeaderMatch{Name: name, Value: *v})
	}
	if len(out) == 0 {
		return nil
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// unsafe leaves out a condition whose value checkWire rejected (CR, LF or NUL): no request
// can carry it, so keeping it would make the failing rule match nothing.
func unsafeValue(sm *snapshot.StringMatch) *snapshot.StringMatch {
	if sm != nil && hasCRLFNUL(sm.Value) {
		return nil
	}
	return sm
}
