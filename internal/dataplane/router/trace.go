package router

import (
	"fmt"
	"net/http"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// condition names the first condition of a compiled match a request fails: condNone when
// all hold, then uri, method, authority, scheme, headers[i] (condHeader+i), queryParams[i]
// (condHeader+len(headers)+i), withoutHeaders[i] (condHeader+len(headers)+len(query)+i).
// An int, so Match pays nothing for it.
type condition int

const (
	condNone condition = iota
	condURI
	condMethod
	condAuthority
	condScheme
	condHeader
)

// mismatch returns the first condition of cm that r fails, in the order matches uses.
// matches is defined on it, so Match and MatchTrace cannot disagree.
func (cm *compiledMatch) mismatch(r *http.Request) condition {
	if cm.uri != nil && !cm.uri.match(r.URL.Path) {
		return condURI
	}
	if cm.method != nil && !cm.method.match(r.Method) {
		return condMethod
	}
	// Envoy matches :authority as received, port included when the client sent one.
	if cm.authority != nil && !cm.authority.match(r.Host) {
		return condAuthority
	}
	if cm.scheme != nil && !cm.scheme.match(scheme(r)) {
		return condScheme
	}
	for i := range cm.headers {
		h := &cm.headers[i]
		v, ok := h.header(r)
		if !ok || !h.m.match(v) {
			return condHeader + condition(i)
		}
	}
	for i := range cm.query {
		q := &cm.query[i]
		v, ok := queryValue(r.URL.RawQuery, q.name)
		if !ok || !q.m.match(v) {
			return condHeader + condition(len(cm.headers)+i)
		}
	}
	for i := range cm.without {
		h := &cm.without[i]
		v, ok := h.header(r)
		if h.m.kind == snapshot.Present || h.m.kind == "" {
			if ok {
				return condHeader + condition(len(cm.headers)+len(cm.query)+i)
			}
			continue
		}
		// Istio sets treat_missing_header_as_empty: a missing header is matched as "".
		if h.m.match(v) {
			return condHeader + condition(len(cm.headers)+len(cm.query)+i)
		}
	}
	return condNone
}

// RouteTrace is one route MatchTrace tried, in order: whether it was selected and, for
// each match clause (OR), why it did not match.
type RouteTrace struct {
	Route    *snapshot.Route
	Selected bool
	// Clauses[i] is "" for the clause that matched, else the reason match[i] failed.
	// Empty for a route without conditions (it matches everything).
	Clauses []string
}

// reason formats why c failed for r.
func (cm *compiledMatch) reason(c condition, r *http.Request) string {
	sm := func(m *snapshot.StringMatch) string { return fmt.Sprintf("%s %q", m.Kind, m.Value) }
	nh, nq := len(cm.headers), len(cm.query)
	switch {
	case c == condNone:
		return ""
	case c == condURI:
		return fmt.Sprintf("uri: path %q is not %s", r.URL.Path, sm(cm.src.URI))
	case c == condMethod:
		return fmt.Sprintf("method: %q is not %s", r.Method, sm(cm.src.Method))
	case c == condAuthority:
		return fmt.Sprintf("authority: %q is not %s", r.Host, sm(cm.src.Authority))
	case c == condScheme:
		return fmt.Sprintf("scheme: %q is not %s", scheme(r), sm(cm.src.Scheme))
	case int(c-condHeader) < nh:
		h := &cm.headers[c-condHeader]
		v, ok := h.header(r)
		if !ok {
			return fmt.Sprintf("headers[%s]: absent", h.name)
		}
		return fmt.Sprintf("headers[%s]: %q is not %s %q", h.name, v, h.m.kind, h.m.value)
	case int(c-condHeader) < nh+nq:
		q := &cm.query[int(c-condHeader)-nh]
		v, ok := queryValue(r.URL.RawQuery, q.name)
		if !ok {
			return fmt.Sprintf("queryParams[%s]: absent", q.name)
		}
		return fmt.Sprintf("queryParams[%s]: %q is not %s %q", q.name, v, q.m.kind, q.m.value)
	}
	h := &cm.without[int(c-condHeader)-nh-nq]
	if h.m.kind == snapshot.Present || h.m.kind == "" {
		return fmt.Sprintf("withoutHeaders[%s]: present", h.name)
	}
	v, _ := h.header(r)
	return fmt.Sprintf("withoutHeaders[%s]: %q is %s %q", h.name, v, h.m.kind, h.m.value)
}

// MatchTrace is Match reporting every route it tried before the winner (or all of them
// when none matches) and why each clause failed. It runs the same walk as Match.
func (t *Table) MatchTrace(host string, r *http.Request) (Result, []RouteTrace) {
	var tr []RouteTrace
	res := t.match(host, r, &tr)
	return res, tr
}

// match is Match; with tr non-nil it records the routes tried.
func (t *Table) match(host string, r *http.Request, tr *[]RouteTrace) Result {
	if t == nil {
		return Result{}
	}
	i := t.hosts.Lookup(host)
	if i < 0 {
		return Result{}
	}
	vh := &t.vhosts[i]
	for j := range vh.routes {
		cr := &vh.routes[j]
		if len(cr.matches) == 0 {
			if tr != nil {
				*tr = append(*tr, RouteTrace{Route: cr.src, Selected: true})
			}
			return Result{VirtualHost: vh.src, Route: cr.src, cr: cr}
		}
		var rt *RouteTrace
		if tr != nil {
			*tr = append(*tr, RouteTrace{Route: cr.src})
			rt = &(*tr)[len(*tr)-1]
		}
		for k := range cr.matches {
			cm := &cr.matches[k]
			c := cm.mismatch(r)
			if rt != nil {
				rt.Clauses = append(rt.Clauses, cm.reason(c, r))
			}
			if c == condNone {
				if rt != nil {
					rt.Selected = true
				}
				return Result{VirtualHost: vh.src, Route: cr.src, Match: cm.src, cr: cr}
			}
		}
	}
	return Result{VirtualHost: vh.src}
}
