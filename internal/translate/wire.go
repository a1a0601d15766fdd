package translate

import (
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"
	networking "istio.io/api/networking/v1alpha3"
)

// failClosedStatus answers the requests of a rule rejected for unsafe strings.
const failClosedStatus = 500

// Strings of a rule that end up in an HTTP message (header names and values, the
// rewritten or redirected URI and authority) must not contain CR, LF or NUL: such a value
// would split a header or a request line (the class of ingress-nginx CVE-2021-25748).
// Match values never reach the wire but are held to the same rule: a match written with
// a raw CR or LF can only be a mistake or an attack, and no valid request carries one.
//
// A rule with such a string is not served and does not fall through either: it is kept
// in its place failing closed (500, failClosedStatus), so the requests it was written for
// never reach a later rule (which may, say, skip authentication headers the rule would add).

// checkWire reports every unsafe string of r. A match condition with one is left out by
// compileMatch (treated as matching), so the failing rule still catches its requests.
func checkWire(rf *findings, base string, r *networking.HTTPRoute) (unsafe, inMatch bool) {
	n := len(*rf)
	for j, m := range r.Match {
		if m != nil {
			checkMatch(rf, fmt.Sprintf("%s.match[%d]", base, j), m)
		}
	}
	inMatch = len(*rf) > n
	if h := r.Headers; h != nil {
		checkHeaderOps(rf, base+".headers.request", h.Request)
		checkHeaderOps(rf, base+".headers.response", h.Response)
	}
	for j, d := range r.Route {
		if d != nil && d.Headers != nil {
			df := fmt.Sprintf("%s.route[%d].headers", base, j)
			checkHeaderOps(rf, df+".request", d.Headers.Request)
			checkHeaderOps(rf, df+".response", d.Headers.Response)
		}
	}
	if rw := r.Rewrite; rw != nil {
		checkURI(rf, base+".rewrite.uri", rw.Uri)
		checkAuthority(rf, base+".rewrite.authority", rw.Authority)
	}
	if rd := r.Redirect; rd != nil {
		checkURI(rf, base+".redirect.uri", rd.Uri)
		checkAuthority(rf, base+".redirect.authority", rd.Authority)
	}
	return len(*rf) > n, inMatch
}

func checkMatch(rf *findings, base string, m *networking.HTTPMatchRequest) {
	checkStringMatch(rf, base+".uri", m.Uri)
	checkStringMatch(rf, base+".method", m.Method)
	checkStringMatch(rf, base+".authority", m.Authority)
	for _, hm := range []struct {
		field string
		m     map[string]*networking.StringMatch
	}{{"headers", m.Headers}, {"withoutHeaders", m.WithoutHeaders}} {
		for _, name := range sortedKeys(hm.m) {
			f := fmt.Sprintf("%s.%s[%s]", base, hm.field, quoteKey(name))
			if name != "" && !strings.HasPrefix(name, ":") && !httpguts.ValidHeaderFieldName(name) {
				rf.errorf(f, "header name %q is not a valid HTTP field name (token)", name)
			}
			checkStringMatch(rf, f, hm.m[name])
		}
	}
	for _, name := range sortedKeys(m.QueryParams) {
		f := fmt.Sprintf("%s.queryParams[%s]", base, quoteKey(name))
		if hasCRLFNUL(name) {
			rf.errorf(f, "query parameter name %q contains CR, LF or NUL", name)
		}
		checkStringMatch(rf, f, m.QueryParams[name])
	}
}

func checkStringMatch(rf *findings, field string, m *networking.StringMatch) {
	if m == nil {
		return
	}
	var kind, v string
	switch x := m.MatchType.(type) {
	case *networking.StringMatch_Exact:
		kind, v = "exact", x.Exact
	case *networking.StringMatch_Prefix:
		kind, v = "prefix", x.Prefix
	case *networking.StringMatch_Regex:
		kind, v = "regex", x.Regex
	default:
		return
	}
	if hasCRLFNUL(v) {
		rf.errorf(field+"."+kind, "match value %q contains CR, LF or NUL", v)
	}
}

func checkHeaderOps(rf *findings, field string, h *networking.Headers_HeaderOperations) {
	if h == nil {
		return
	}
	for _, sub := range []struct {
		name string
		m    map[string]string
	}{{"set", h.Set}, {"add", h.Add}} {
		for _, k := range sortedKeys(sub.m) {
			f := fmt.Sprintf("%s.%s[%s]", field, sub.name, quoteKey(k))
			if k != "" && !httpguts.ValidHeaderFieldName(k) {
				rf.errorf(f, "header name %q is not a valid HTTP field name (token)", k)
			}
			if v := sub.m[k]; !httpguts.ValidHeaderFieldValue(v) {
				rf.errorf(f, "header value %q is not a valid HTTP field value (CR, LF, NUL or another control character)", v)
			}
		}
	}
	for k, name := range h.Remove {
		if name != "" && !httpguts.ValidHeaderFieldName(name) {
			rf.errorf(fmt.Sprintf("%s.remove[%d]", field, k), "header name %q is not a valid HTTP field name (token)", name)
		}
	}
}

// checkURI: a URI goes into a request line or a Location header; control characters and
// spaces would end either early.
func checkURI(rf *findings, field, uri string) {
	if strings.IndexFunc(uri, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		rf.errorf(field, "URI %q contains a space or a control character (CR, LF, NUL, ...)", uri)
	}
}

// checkAuthority: an authority goes into a Host or Location header.
func checkAuthority(rf *findings, field, authority string) {
	if authority != "" && !httpguts.ValidHostHeader(authority) {
		rf.errorf(field, "authority %q is not a valid host[:port] (CR, LF, NUL, spaces and other characters are not allowed)", authority)
	}
}

func hasCRLFNUL(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// quoteKey renders a map key inside a field path: as is when printable, else quoted.
func quoteKey(k string) string {
	if strings.IndexFunc(k, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return fmt.Sprintf("%q", k)
	}
	return k
}
