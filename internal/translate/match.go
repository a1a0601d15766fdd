package translate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// matchScope restricts a match to some servers: match.port and match.gateways.
type matchScope struct {
	port     uint32   // 0 = any port
	gateways []string // "ns/name"; nil = any gateway
}

func (sc matchScope) applies(si *serverInfo) bool {
	if sc.port != 0 && sc.port != si.port {
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

// compileMatch converts one HTTPMatchRequest. Errors in rf drop the whole rule: a match we
// cannot honour would otherwise match more than written.
func compileMatch(rf *findings, base string, m *networking.HTTPMatchRequest, vsNamespace string) (snapshot.Match, matchScope, bool) {
	var out snapshot.Match
	var sc matchScope
	if m == nil {
		return out, sc, false
	}
	out.URI = stringMatch(rf, base+".uri", m.Uri, true)
	out.Method = stringMatch(rf, base+".method", m.Method, true)
	out.Authority = stringMatch(rf, base+".authority", m.Authority, true)
	out.Headers = headerMatches(rf, base+".headers", m.Headers, true, true)
	out.QueryParams = headerMatches(rf, base+".queryParams", m.QueryParams, false, false)
	out.IgnoreURICase = m.IgnoreUriCase

	notSupported := func(field string, set bool) {
		if set {
			rf.errorf(base+"."+field, "%s matching is not supported yet", field)
		}
	}
	notSupported("scheme", m.Scheme != nil)
	notSupported("withoutHeaders", len(m.WithoutHeaders) > 0)
	notSupported("sourceLabels", len(m.SourceLabels) > 0)
	notSupported("sourceNamespace", m.SourceNamespace != "")
	if m.StatPrefix != "" {
		rf.warnf(base+".statPrefix", "statPrefix is not supported; ignored")
	}

	restricted := false
	if m.Port != 0 {
		sc.port = m.Port
		restricted = true
	}
	if len(m.Gateways) > 0 {
		restricted = true
		sc.gateways = []string{} // non-nil: only the listed gateways (possibly none, for "mesh")
		for _, g := range m.Gateways {
			if key, ok := resolveGatewayRef(g, vsNamespace); ok {
				sc.gateways = append(sc.gateways, key)
			}
		}
	}
	return out, sc, restricted
}

// stringMatch converts an Istio StringMatch; nil stays nil (no condition).
func stringMatch(rf *findings, field string, m *networking.StringMatch, allowPrefix bool) *snapshot.StringMatch {
	if m == nil {
		return nil
	}
	switch v := m.MatchType.(type) {
	case *networking.StringMatch_Exact:
		return &snapshot.StringMatch{Kind: snapshot.Exact, Value: v.Exact}
	case *networking.StringMatch_Prefix:
		if !allowPrefix {
			rf.errorf(field+".prefix", "prefix matching is not supported here (Istio supports exact and regex only)")
			return nil
		}
		return &snapshot.StringMatch{Kind: snapshot.Prefix, Value: v.Prefix}
	case *networking.StringMatch_Regex:
		if v.Regex == "" {
			rf.errorf(field+".regex", "empty regex")
			return nil
		}
		if _, err := regexp.Compile(v.Regex); err != nil {
			rf.errorf(field+".regex", "regex %q does not compile as RE2: %v", v.Regex, err)
			return nil
		}
		return &snapshot.StringMatch{Kind: snapshot.Regex, Value: v.Regex}
	}
	rf.errorf(field, "empty match: set exact, prefix or regex")
	return nil
}

// headerMatches converts a name->StringMatch map into a list sorted by name. Header names are
// lower-cased (HTTP header names are case-insensitive); query parameter names are not.
func headerMatches(rf *findings, field string, m map[string]*networking.StringMatch, lower, allowPrefix bool) []snapshot.HeaderMatch {
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
		f := fmt.Sprintf("%s[%s]", field, n)
		if n == "" {
			rf.errorf(f, "empty name")
			continue
		}
		sm := m[n]
		if sm == nil || sm.MatchType == nil {
			rf.errorf(f, "presence-only matching (no exact, prefix or regex) is not supported yet")
			continue
		}
		v := stringMatch(rf, f, sm, allowPrefix)
		if v == nil {
			continue
		}
		name := n
		if lower {
			name = strings.ToLower(n)
		}
		out = append(out, snapshot.HeaderMatch{Name: name, Value: *v})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
