package dataplane

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// cors applies a route's corsPolicy as Envoy's CORS filter does. A preflight (OPTIONS with
// Origin and Access-Control-Request-Method) from an allowed origin is answered here: 200
// with the policy's headers. A preflight from another origin goes on to the route
// (unmatchedPreflights FORWARD) or is answered 200 without CORS headers (IGNORE). Any other
// request from an allowed origin has Access-Control-Allow-Origin (the request's origin),
// -Allow-Credentials and -Expose-Headers set on its response (policyWriter). done is true
// when the request was answered. A Gateway API CORS filter (c.GatewayAPI) follows that
// spec's HTTPCORSFilter text where it differs from Envoy.
func (d *Dataplane) cors(e *exchange, r *http.Request, c *snapshot.CORS) (done bool) {
	origins := r.Header["Origin"]
	if len(origins) == 0 || origins[0] == "" {
		return false
	}
	origin := origins[0]
	allowed := d.policy.originAllowed(c, origin)
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	w := &e.statusRecorder
	switch {
	case allowed && preflight:
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if c.AllowMethods == "*" {
			h.Set("Access-Control-Allow-Methods", r.Header.Get("Access-Control-Request-Method"))
		} else if c.AllowMethods != "" {
			h.Set("Access-Control-Allow-Methods", c.AllowMethods)
		}
		switch rh := r.Header.Get("Access-Control-Request-Headers"); {
		case c.AllowHeaders == "*" && c.GatewayAPI && rh == "":
			// Gateway API: no requested headers, no Allow-Headers.
		case c.AllowHeaders == "*":
			h.Set("Access-Control-Allow-Headers", rh)
		case c.AllowHeaders != "":
			h.Set("Access-Control-Allow-Headers", c.AllowHeaders)
		}
		if c.GatewayAPI && c.ExposeHeaders != "" && (c.ExposeHeaders != "*" || !c.AllowCredentials) {
			// Gateway API: the preflight answer carries -Expose-Headers too; with
			// credentials "*" cannot be sent and a preflight has no headers to list.
			h.Set("Access-Control-Expose-Headers", c.ExposeHeaders)
		}
		if c.MaxAge != "" {
			h.Set("Access-Control-Max-Age", c.MaxAge)
		}
		w.WriteHeader(http.StatusOK)
		return true
	case preflight && !c.ForwardUnmatchedPreflights:
		w.WriteHeader(http.StatusOK)
		return true
	case allowed:
		e.policy.cors, e.policy.origin = c, origin
	}
	return false
}

// corsResponseHeaders sets the headers of a response to an allowed origin's request.
func corsResponseHeaders(h http.Header, c *snapshot.CORS, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	switch {
	case c.ExposeHeaders == "*" && c.GatewayAPI && c.AllowCredentials:
		// Gateway API: "*" cannot go with credentials; expose the names this response has.
		if names := responseHeaderNames(h); names != "" {
			h.Set("Access-Control-Expose-Headers", names)
		}
	case c.ExposeHeaders != "":
		h.Set("Access-Control-Expose-Headers", c.ExposeHeaders)
	}
}

// responseHeaderNames lists a response's header names, sorted, without the CORS ones.
func responseHeaderNames(h http.Header) string {
	names := make([]string, 0, len(h))
	for k := range h {
		if !strings.HasPrefix(k, "Access-Control-") {
			names = append(names, strings.ToLower(k))
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// policyState is the dataplane's state for route policies: mirror counters and compiled
// CORS origin patterns.
type policyState struct {
	mirrors mirrorStats
	regexps sync.Map // anchored CORS origin pattern → *regexp.Regexp (validated by the translator)
}

// originAllowed: a matcher that matches "*" allows every origin, as Envoy.
func (ps *policyState) originAllowed(c *snapshot.CORS, origin string) bool {
	for i := range c.AllowOrigins {
		m := &c.AllowOrigins[i]
		if ps.stringMatches(m, "*") || ps.stringMatches(m, origin) {
			return true
		}
	}
	return false
}

func (ps *policyState) stringMatches(m *snapshot.StringMatch, s string) bool {
	switch m.Kind {
	case snapshot.Exact:
		return s == m.Value
	case snapshot.Prefix:
		return strings.HasPrefix(s, m.Value)
	case snapshot.Regex:
		re := ps.anchored(m.Value)
		return re != nil && re.MatchString(s)
	}
	return false
}

func (ps *policyState) anchored(expr string) *regexp.Regexp {
	if re, ok := ps.regexps.Load(expr); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil
	}
	ps.regexps.Store(expr, re)
	return re
}
