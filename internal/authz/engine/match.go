package engine

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// matcher is one compiled predicate value set: it reports whether the request attribute
// matches any of the values.
type matcher func(c *reqCtx) bool

// strMatch is Envoy's StringMatcher as Istio generates it from a value: "*" matches any
// non-empty string, "*x" a suffix, "x*" a prefix, anything else exactly.
type strMatch struct {
	kind       byte // '*' any, 's' suffix, 'p' prefix, 'e' exact
	v          string
	ignoreCase bool
}

func newStrMatch(v string, ignoreCase bool) strMatch {
	switch {
	case v == "*":
		return strMatch{kind: '*'}
	case strings.HasPrefix(v, "*"):
		return strMatch{kind: 's', v: v[1:], ignoreCase: ignoreCase}
	case strings.HasSuffix(v, "*"):
		return strMatch{kind: 'p', v: v[:len(v)-1], ignoreCase: ignoreCase}
	}
	return strMatch{kind: 'e', v: v, ignoreCase: ignoreCase}
}

func (m strMatch) match(s string) bool {
	switch m.kind {
	case '*':
		return s != ""
	case 's':
		if len(s) < len(m.v) {
			return false
		}
		if m.ignoreCase {
			return strings.EqualFold(s[len(s)-len(m.v):], m.v)
		}
		return strings.HasSuffix(s, m.v)
	case 'p':
		if len(s) < len(m.v) {
			return false
		}
		if m.ignoreCase {
			return strings.EqualFold(s[:len(m.v)], m.v)
		}
		return strings.HasPrefix(s, m.v)
	}
	if m.ignoreCase {
		return strings.EqualFold(s, m.v)
	}
	return s == m.v
}

func strMatches(vals []string, ignoreCase bool) []strMatch {
	out := make([]strMatch, len(vals))
	for i, v := range vals {
		out[i] = newStrMatch(v, ignoreCase)
	}
	return out
}

func anyStr(ms []strMatch, s string) bool {
	for _, m := range ms {
		if m.match(s) {
			return true
		}
	}
	return false
}

// compileMatcher compiles the values of one attribute key (checked by Translate).
func compileMatcher(key string, vals []string) (matcher, error) {
	switch key {
	case "source.ip", "remote.ip", "destination.ip":
		ps := make([]netip.Prefix, 0, len(vals))
		for _, v := range vals {
			p, err := parsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR range", v)
			}
			ps = append(ps, p)
		}
		get := map[string]func(*reqCtx) netip.Addr{
			"source.ip": (*reqCtx).peerIP, "remote.ip": (*reqCtx).remoteIP, "destination.ip": (*reqCtx).localIP,
		}[key]
		return func(c *reqCtx) bool {
			a := get(c)
			if !a.IsValid() {
				return false
			}
			for _, p := range ps {
				if p.Contains(a) {
					return true
				}
			}
			return false
		}, nil
	case "destination.port":
		ports := make([]uint32, 0, len(vals))
		for _, v := range vals {
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%q is not a port", v)
			}
			ports = append(ports, uint32(n))
		}
		return func(c *reqCtx) bool {
			for _, p := range ports {
				if p == c.port {
					return true
				}
			}
			return false
		}, nil
	case "request.host":
		ms := strMatches(vals, true)
		return func(c *reqCtx) bool { return c.r.Host != "" && anyStr(ms, c.r.Host) }, nil
	case "request.method":
		ms := strMatches(vals, false)
		return func(c *reqCtx) bool { return anyStr(ms, c.r.Method) }, nil
	case "request.path":
		return pathMatcher(vals)
	case "connection.sni":
		ms := strMatches(vals, false)
		return func(c *reqCtx) bool { return c.r.TLS != nil && anyStr(ms, c.r.TLS.ServerName) }, nil
	case "source.principal":
		ms := principalMatches(vals)
		return func(c *reqCtx) bool {
			p, ok := c.peerPrincipal()
			if !ok {
				return false
			}
			for _, m := range ms {
				if m(p) {
					return true
				}
			}
			return false
		}, nil
	case "source.namespace", "source.serviceAccount", "source.trustDomain":
		res := make([]*regexp.Regexp, 0, len(vals))
		for _, v := range vals {
			res = append(res, regexp.MustCompile("^(?:"+identityRegex(key, v)+")$"))
		}
		return func(c *reqCtx) bool {
			p, ok := c.peerPrincipal()
			if !ok {
				return false
			}
			for _, re := range res {
				if re.MatchString(p) {
					return true
				}
			}
			return false
		}, nil
	case "request.auth.principal":
		ms := make([][2]strMatch, 0, len(vals))
		for _, v := range vals {
			ms = append(ms, requestPrincipalMatch(v))
		}
		return func(c *reqCtx) bool {
			if c.jwt == nil {
				return false
			}
			iss, _ := c.jwt.claims["iss"].(string)
			sub, _ := c.jwt.claims["sub"].(string)
			for _, m := range ms {
				if m[0].match(iss) && m[1].match(sub) {
					return true
				}
			}
			return false
		}, nil
	case "request.auth.audiences":
		return claimMatcher([]string{"aud"}, vals), nil
	case "request.auth.presenter":
		return claimMatcher([]string{"azp"}, vals), nil
	}
	if strings.HasPrefix(key, "request.auth.claims[") {
		path := strings.Split(strings.TrimSuffix(strings.TrimPrefix(key, "request.auth.claims["), "]"), "][")
		return claimMatcher(path, vals), nil
	}
	if strings.HasPrefix(key, "request.headers[") {
		name := strings.TrimSuffix(strings.TrimPrefix(key, "request.headers["), "]")
		ms := strMatches(vals, false)
		return func(c *reqCtx) bool {
			hv, ok := c.r.Header[httpCanonical(name)]
			if !ok {
				return false
			}
			// Envoy sees repeated headers as one value joined by ",".
			s := strings.Join(hv, ",")
			for _, m := range ms {
				if m.kind == '*' || m.match(s) { // "*" is a presence match for headers
					return true
				}
			}
			return false
		}, nil
	}
	return nil, fmt.Errorf("unsupported key %q", key)
}

// principalMatches: Istio matches principals against the peer certificate's principal
// with "spiffe://" prepended to the value ("*" = any authenticated principal).
func principalMatches(vals []string) []func(string) bool {
	const pre = "spiffe://"
	out := make([]func(string) bool, 0, len(vals))
	for _, v := range vals {
		switch {
		case v == "*":
			out = append(out, func(p string) bool { return p != "" })
		case strings.HasPrefix(v, "*"):
			suf := v[1:]
			out = append(out, func(p string) bool {
				return strings.HasPrefix(p, pre) && strings.HasSuffix(p[len(pre):], suf)
			})
		case strings.HasSuffix(v, "*"):
			want := pre + v[:len(v)-1]
			out = append(out, func(p string) bool { return strings.HasPrefix(p, want) })
		default:
			want := pre + v
			out = append(out, func(p string) bool { return p == want })
		}
	}
	return out
}

// identityRegex is Istio's regex over the peer principal for namespaces, serviceAccounts
// ("ns/sa") and trustDomains.
func identityRegex(key, v string) string {
	switch key {
	case "source.namespace":
		parts := strings.Split(v, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		return ".*/ns/" + strings.Join(parts, ".*") + "/.*"
	case "source.serviceAccount":
		ns, sa, _ := strings.Cut(v, "/")
		return "spiffe://.+/ns/" + regexp.QuoteMeta(ns) + "/(.+/|)sa/" + regexp.QuoteMeta(sa) + "(/.+)?"
	}
	switch {
	case v == "*":
		return "spiffe://.*"
	case !strings.Contains(v, "*"):
		return regexp.QuoteMeta("spiffe://"+v+"/") + ".*"
	}
	parts := strings.SplitN(v, "*", 2)
	return "spiffe://" + regexp.QuoteMeta(parts[0]) + "[^/]*" + regexp.QuoteMeta(parts[1]) + "/.*"
}

// requestPrincipalMatch splits an "iss/sub" value at its last "/" as Istio does and returns
// the issuer and subject matchers.
func requestPrincipalMatch(v string) [2]strMatch {
	any := strMatch{kind: '*'}
	idx := strings.LastIndex(v, "/")
	found := idx >= 0
	iss, sub := v, ""
	if found {
		iss, sub = v[:idx], v[idx+1:]
	}
	exact := func(s string) strMatch { return strMatch{kind: 'e', v: s} }
	switch {
	case v == "*":
		return [2]strMatch{any, any}
	case strings.HasPrefix(v, "*"):
		if !found {
			return [2]strMatch{any, {kind: 's', v: v[1:]}}
		}
		if iss == "*" {
			return [2]strMatch{any, exact(sub)}
		}
		return [2]strMatch{{kind: 's', v: iss[1:]}, exact(sub)}
	case strings.HasSuffix(v, "*"):
		if !found {
			return [2]strMatch{{kind: 'p', v: v[:len(v)-1]}, any}
		}
		if sub == "*" {
			return [2]strMatch{exact(iss), any}
		}
		return [2]strMatch{exact(iss), {kind: 'p', v: sub[:len(sub)-1]}}
	}
	return [2]strMatch{exact(iss), exact(sub)}
}

// claimMatcher matches a (nested) claim of the verified token: a string claim, or any
// string element of a list claim, against the values.
func claimMatcher(path []string, vals []string) matcher {
	ms := strMatches(vals, false)
	return func(c *reqCtx) bool {
		if c.jwt == nil {
			return false
		}
		var cur any = map[string]any(c.jwt.claims)
		for _, k := range path {
			obj, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			if cur, ok = obj[k]; !ok {
				return false
			}
		}
		if len(path) == 1 {
			if l, ok := c.jwt.split[path[0]]; ok {
				cur = l
			}
		}
		switch v := cur.(type) {
		case string:
			return anyStr(ms, v)
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok && anyStr(ms, s) {
					return true
				}
			}
		case []string:
			for _, s := range v {
				if anyStr(ms, s) {
					return true
				}
			}
		}
		return false
	}
}

// pathMatcher: Istio's paths on the normalized path (no query): "*" prefix/suffix rules,
// or a path template with {*} (one segment) and {**} (the rest).
func pathMatcher(vals []string) (matcher, error) {
	var ms []strMatch
	var res []*regexp.Regexp
	for _, v := range vals {
		if containsTemplate(v) {
			re, err := templateRegexp(v)
			if err != nil {
				return nil, err
			}
			res = append(res, re)
			continue
		}
		ms = append(ms, newStrMatch(v, false))
	}
	return func(c *reqCtx) bool {
		p := c.r.URL.Path
		if anyStr(ms, p) {
			return true
		}
		for _, re := range res {
			if re.MatchString(p) {
				return true
			}
		}
		return false
	}, nil
}

func containsTemplate(v string) bool {
	return strings.Contains(v, "{*}") || strings.Contains(v, "{**}")
}

// Envoy's uri_template segment alphabets (RFC 3986 pchar): {*} is one non-empty segment,
// {**} zero or more characters including "/".
const (
	segChars  = `[a-zA-Z0-9\-._~%!$&'()+,;:@=]+`
	globChars = `[a-zA-Z0-9\-._~%!$&'()+,;:@=/]*`
)

// templateRegexp compiles a path template as Istio validates it: {*} and {**} must be whole
// segments, {**} only as the last operator, and no other "*" or braces.
func templateRegexp(v string) (*regexp.Regexp, error) {
	if !strings.HasPrefix(v, "/") {
		return nil, fmt.Errorf("path template %q must start with /", v)
	}
	segs := strings.Split(v[1:], "/")
	var b strings.Builder
	b.WriteString("^")
	for i, s := range segs {
		b.WriteString("/")
		switch {
		case s == "{*}":
			b.WriteString(segChars)
		case s == "{**}":
			if strings.Contains(strings.Join(segs[i+1:], "/"), "{") {
				return nil, fmt.Errorf("path template %q: {**} must be the last operator", v)
			}
			b.WriteString(globChars)
		case strings.ContainsAny(s, "{}*"):
			return nil, fmt.Errorf("path template %q: operators must be whole segments ({*} or {**}); no other * or braces", v)
		default:
			b.WriteString(regexp.QuoteMeta(s))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
