package router

import (
	"fmt"
	"net/http"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// condition names one condition of a compiled match, for MatchTrace. condNone: all hold.
type condition struct {
	field string // "uri", "method", "authority", "headers", "queryParams"; "" when all hold
	index int    // position in headers/queryParams
}

// mismatch returns the first condition of cm that r fails (field ""), evaluated in the
// order matches uses. matches is defined on it, so Match and MatchTrace cannot disagree.
func (cm *compiledMatch) mismatch(r *http.Request) condition {
	if cm.uri != nil && !cm.uri.match(r.URL.Path) {
		return condition{field: "uri"}
	}
	if cm.method != nil && !cm.method.match(r.Method) {
		return condition{field: "method"}
	}
	// Envoy matches :authority as received, port included when the client sent one.
	if cm.authority != nil && !cm.authority.match(r.Host) {
		return condition{field: "authority"}
	}
	for i := range cm.headers {
		h := &cm.headers[i]
		vs, ok := r.Header[h.name]
		if !ok || !h.m.match(headerValue(vs)) {
			return condition{field: "headers", index: i}
		}
	}
	for i := range cm.query {
		q := &cm.query[i]
		v, ok := queryValue(r.URL.RawQuery, q.name)
		if !ok || !q.m.match(v) {
			return condition{field: "queryParams", index: i}
		}
	}
	return condition{}
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
	switch c.field {
	case "uri":
		return fmt.Sprintf("uri: path %q is not %s", r.URL.Path, sm(cm.src.URI))
	case "method":
		return fmt.Sprintf("method: %q is not %s", r.Method, sm(cm.src.Method))
	case "authority":
		return fmt.Sprintf("authority: %q is not %s", r.Host, sm(cm.src.Authority))
	case "headers":
		h := &cm.headers[c.index]
		vs, ok := r.Header[h.name]
		if !ok {
			return fmt.Sprintf("headers[%s]: absent", h.name)
		}
		return fmt.Sprintf("headers[%s]: %q is not %s %q", h.name, headerValue(vs), h.m.kind, h.m.value)
	case "queryParams":
		q := &cm.query[c.index]
		v, ok := queryValue(r.URL.RawQuery, q.name)
		if !ok {
			return fmt.Sprintf("queryParams[%s]: absent", q.name)
		}
		return fmt.Sprintf("queryParams[%s]: %q is not %s %q", q.name, v, q.m.kind, q.m.value)
	}
	return ""
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
			if c.field == "" {
				if rt != nil {
					rt.Selected = true
				}
				return Result{VirtualHost: vh.src, Route: cr.src, Match: cm.src}
			}
		}
	}
	return Result{VirtualHost: vh.src}
}
