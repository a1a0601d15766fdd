// Package router is the data plane's pure request matcher: host patterns to items (SNI →
// Server, Host → owning Server for the 421 check, Host → VirtualHost) and a compiled route
// table per snapshot.Server (Host + method + URI + headers + query → first matching Route),
// plus weighted cluster selection (per-route smooth weighted round robin), regex path
// rewrites and path normalization.
//
// Everything here is precomputed once per snapshot (Compile, NewHosts) and then read
// concurrently without locks: lookups and exact/prefix route matches allocate nothing.
// Nothing here does I/O or logs; the only state kept between calls is each weighted
// route's pick counter (one atomic add per pick, see picker).
//
// Paths: Route matches r.URL.Path as the request carries it (already percent-decoded by
// net/http). The dataplane is expected to normalize it first with NormalizePath (or reject
// requests whose path is not normal) so that dot segments and repeated slashes cannot steer
// a request past a route.
//
// Imports: standard library and internal/snapshot only.
package router
