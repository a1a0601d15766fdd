package router

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Table is one compiled route table (the VirtualHosts of one snapshot.Server). It keeps
// pointers into the VirtualHosts it was compiled from, which must not be modified
// afterwards (snapshots are immutable). Safe for concurrent use.
type Table struct {
	hosts  *Hosts
	vhosts []compiledVHost
}

type compiledVHost struct {
	src    *snapshot.VirtualHost
	routes []compiledRoute
}

type compiledRoute struct {
	src     *snapshot.Route
	matches []compiledMatch // empty: the route matches every request
	picker  *picker         // nil unless the route forwards to several clusters
	rewrite *regexRewrite   // nil unless the route has a regex rewrite
}

// Result is the outcome of Table.Match. VirtualHost is nil when no virtual host claims
// the Host; Route is nil when none of its routes matches (→ 404). Match is the condition
// set that selected the route (nil for a route without conditions); the dataplane needs
// it for Istio's prefix rewrite, which replaces the part of the path the matching prefix
// covered.
type Result struct {
	VirtualHost *snapshot.VirtualHost
	Route       *snapshot.Route
	Match       *snapshot.Match
	cr          *compiledRoute
}

// Compile precompiles vhosts for matching: domains into a Hosts (first virtual host to
// claim a domain keeps it), header names canonicalized, regexes compiled and anchored.
// Regex compile errors (and unknown match kinds) are returned, naming the virtual host,
// route and field; the translator validates them first, so this is a second line of
// defence.
func Compile(vhosts []snapshot.VirtualHost) (*Table, error) {
	t := &Table{vhosts: make([]compiledVHost, len(vhosts))}
	domains := make([][]string, len(vhosts))
	var errs []error
	for i := range vhosts {
		vh := &vhosts[i]
		domains[i] = vh.Domains
		cv := compiledVHost{src: vh, routes: make([]compiledRoute, len(vh.Routes))}
		for j := range vh.Routes {
			rt := &vh.Routes[j]
			cr := compiledRoute{src: rt}
			if rt.Forward != nil {
				cr.picker = newPicker(rt.Forward.Clusters)
				if rw := rt.Forward.Rewrite; rw != nil && rw.Regex != "" {
					rr, err := compileRegexRewrite(rw.Regex, rw.Substitution)
					if err != nil {
						errs = append(errs, fmt.Errorf("virtual host %q route %q rewrite: %w", vh.Name, rt.Name, err))
					}
					cr.rewrite = rr
				}
			}
			for k := range rt.Match {
				cm, err := compileMatch(&rt.Match[k])
				if err != nil {
					errs = append(errs, fmt.Errorf("virtual host %q route %q match[%d]: %w", vh.Name, rt.Name, k, err))
					continue
				}
				cr.matches = append(cr.matches, cm)
			}
			cv.routes[j] = cr
		}
		t.vhosts[i] = cv
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	t.hosts = NewHosts(domains)
	return t, nil
}

// Route returns the first matching route of the virtual host selected by host (port and
// trailing dot stripped, case-insensitive), or nil (→ 404). vhostFound reports whether
// any virtual host matched the Host at all.
func (t *Table) Route(host string, r *http.Request) (route *snapshot.Route, vhostFound bool) {
	res := t.Match(host, r)
	return res.Route, res.VirtualHost != nil
}

// Match is Route with the details: the selected virtual host and the matching condition.
//
// Semantics are Istio's HTTPMatchRequest: a route with no Match matches everything;
// otherwise any Match (OR) whose conditions all hold (AND). URI conditions see r.URL.Path
// (no query string), method r.Method, authority r.Host as received (with its port, as
// Envoy's :authority), headers the request header (repeated values joined with ","),
// query parameters the first decoded value of that name in r.URL.RawQuery.
func (t *Table) Match(host string, r *http.Request) Result { return t.match(host, r, nil) }

// VirtualHost returns the virtual host that host selects, or nil.
func (t *Table) VirtualHost(host string) *snapshot.VirtualHost {
	if t == nil {
		return nil
	}
	if i := t.hosts.Lookup(host); i >= 0 {
		return t.vhosts[i].src
	}
	return nil
}
