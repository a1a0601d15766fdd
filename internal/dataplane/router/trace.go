package router

import (
	"fmt"
	"net/http"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// condition names the first condition of a compiled match a request fails: condNone when
// all hold, then uri, method, authority, headers[i] (condHeader+i), queryParams[i]
// (condHeader+len(headers)+i). An int, so Match pays nothing for it.
type condition int

const (
	condNone condition = iota
	condURI
	condMethod
	condAuthority
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
	for i := range cm.headers {
		h := &cm.headers[i]
		vs, ok := r.Header[h.name]
		if !ok || !h.m.match(headerValue(vs)) {
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
	switch {
	case c == condNone:
		return ""
	case c == condURI:
		return fmt.Sprintf("uri: path %q is not %s", r.URL.Path, sm(cm.src.URI))
	case c == condMethod:
		return fmt.Sprintf("method: %q is not %s", r.Method, sm(cm.src.Method))
	case c == condAuthority:
		return fmt.Sprintf("authority: %q is not %s", r.Host, sm(cm.src.Authority))
	case int(c-condHeader) < len(cm.headers):
		h := &cm.headers[c-condHeader]
		vs, ok := r.Header[h.name]
		if !ok {
			return fmt.Sprintf("headers[%s]: absent", h.name)
		}
		return fmt.Sprintf("headers[%s]: %q is not %s %q", h.name, headerValue(vs), h.m.kind, h.m.value)
	}
	q := &cm.query[int(c-condHeader)-len(cm.headers)]
	v, ok := queryValue(r.URL.RawQuery, q.name)
	if !ok {
		return fmt.Sprintf("queryParams[%s]: absent", q.name)
	}
	return fmt.Sprintf("queryParams[%s]: %q is not %s %q", q.name, v, q.m.kind, q.m.value)
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
			return Result{VirtualHost: vh.src, Route: cr.src}
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
				return Result{VirtualHost: vh.src, Route: cr.src, Match: cm.src}
			}
		}
	}
	return Result{VirtualHost: vh.src}
}
