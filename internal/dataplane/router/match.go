package router

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// stringMatcher is a compiled snapshot.StringMatch. kind "" matches any value (a header or
// query parameter matcher with no value only checks presence).
type stringMatcher struct {
	kind  snapshot.MatchKind
	value string
	fold  bool // ASCII case-insensitive exact/prefix (ignoreUriCase)
	re    *regexp.Regexp
}

func compileString(sm *snapshot.StringMatch, fold bool) (stringMatcher, error) {
	m := stringMatcher{kind: sm.Kind, value: sm.Value, fold: fold}
	switch sm.Kind {
	case "", snapshot.Present, snapshot.Exact, snapshot.Prefix:
	case snapshot.Regex:
		// Envoy's safe_regex is a full match; anchor so "/a" does not match "/ab".
		re, err := regexp.Compile(`^(?:` + sm.Value + `)$`)
		if err != nil {
			return m, fmt.Errorf("regex %q: %w", sm.Value, err)
		}
		m.re = re
	default:
		return m, fmt.Errorf("unknown match kind %q", sm.Kind)
	}
	return m, nil
}

func (m *stringMatcher) match(s string) bool {
	switch m.kind {
	case snapshot.Exact:
		if m.fold {
			return strings.EqualFold(s, m.value)
		}
		return s == m.value
	case snapshot.Prefix:
		if m.fold {
			return len(s) >= len(m.value) && strings.EqualFold(s[:len(m.value)], m.value)
		}
		return strings.HasPrefix(s, m.value)
	case snapshot.Regex:
		return m.re.MatchString(s)
	}
	return true
}

// compiledMatch is a compiled snapshot.Match: every non-nil condition must hold.
type compiledMatch struct {
	src       *snapshot.Match
	uri       *stringMatcher
	method    *stringMatcher
	authority *stringMatcher
	scheme    *stringMatcher
	headers   []headerMatcher
	query     []queryMatcher
	without   []headerMatcher
}

type headerMatcher struct {
	name string // canonical MIME header key, computed once
	m    stringMatcher
	host bool // "host": net/http moves it to r.Host (Envoy matches :authority)
}

// header returns the value a header matcher sees: repeated values joined with ",".
func (h *headerMatcher) header(r *http.Request) (string, bool) {
	if h.host {
		return r.Host, r.Host != ""
	}
	vs, ok := r.Header[h.name]
	return headerValue(vs), ok
}

type queryMatcher struct {
	name string
	m    stringMatcher
}

func compileMatch(src *snapshot.Match) (compiledMatch, error) {
	cm := compiledMatch{src: src}
	var errs []error
	opt := func(field string, sm *snapshot.StringMatch, fold bool) *stringMatcher {
		if sm == nil {
			return nil
		}
		m, err := compileString(sm, fold)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			return nil
		}
		return &m
	}
	// Istio: ignoreUriCase applies to exact and prefix URI matches only, not to regex.
	cm.uri = opt("uri", src.URI, src.IgnoreURICase)
	cm.method = opt("method", src.Method, false)
	cm.authority = opt("authority", src.Authority, false)
	cm.scheme = opt("scheme", src.Scheme, false)
	headers := func(field string, hs []snapshot.HeaderMatch) []headerMatcher {
		var out []headerMatcher
		for _, h := range hs {
			m, err := compileString(&h.Value, false)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%s]: %w", field, h.Name, err))
				continue
			}
			name := http.CanonicalHeaderKey(h.Name)
			out = append(out, headerMatcher{name: name, m: m, host: name == "Host"})
		}
		return out
	}
	cm.headers = headers("headers", src.Headers)
	cm.without = headers("withoutHeaders", src.WithoutHeaders)
	for _, q := range src.QueryParams {
		m, err := compileString(&q.Value, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("queryParams[%s]: %w", q.Name, err))
			continue
		}
		cm.query = append(cm.query, queryMatcher{name: q.Name, m: m})
	}
	if len(errs) > 0 {
		return cm, errors.Join(errs...)
	}
	return cm, nil
}

// matches reports whether every condition holds (mismatch, trace.go, finds none).
func (cm *compiledMatch) matches(r *http.Request) bool { return cm.mismatch(r) == condNone }

// scheme is the request's :scheme as Envoy sees it on a downstream connection: "https"
// on TLS, else "http".
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// headerValue is what Envoy matches for a repeated header: the values joined with ",".
// That way "x-user: admin" followed by "x-user: eve" cannot pass an exact "admin" check.
// Only the repeated case allocates.
func headerValue(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	return strings.Join(vs, ",")
}

// queryValue returns the decoded value of the first query parameter called name. It scans
// raw without allocating; only percent- or plus-encoded keys and values are decoded (and
// allocate). Pairs that fail to decode are skipped, as url.ParseQuery does.
func queryValue(raw, name string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			dk, err := url.QueryUnescape(k)
			if err != nil {
				continue
			}
			k = dk
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			dv, err := url.QueryUnescape(v)
			if err != nil {
				continue
			}
			v = dv
		}
		return v, true
	}
	return "", false
}
