// Package upstream forwards requests to clusters: per-snapshot cluster endpoint lists with
// round-robin selection, and one long-lived httputil.ReverseProxy over shared, pooled
// upstream connections (they survive snapshot swaps). Requests without a body to plain
// HTTP/1.1 upstreams take a lean round tripper that writes the request and reads the
// response on the handler's goroutine; everything else (bodies, upgrades, Expect) goes
// through http.Transport. Each request carries its Target
// (endpoint, rewrites, header operations, client-certificate details) in its context; the
// proxy's Rewrite applies it, sets X-Forwarded-For/Proto/Host afresh (client-supplied
// values are dropped by ReverseProxy) and always replaces X-Forwarded-Client-Cert.
//
// Errors map to Istio/Envoy's statuses: connect failures and resets 503, timeouts 504.
//
// Imports: standard library, golang.org/x/net/http/httpguts (header validity, as
// http.Transport checks it) and internal/snapshot.
package upstream
