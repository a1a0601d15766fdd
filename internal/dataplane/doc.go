// Package dataplane serves a snapshot: one listener per gateway port (TLS terminated per
// SNI-selected Server, see listener), a router per Server (see router), and the upstream
// proxy (see upstream). Update builds the complete runtime state for a new snapshot beside
// the old one and swaps it with one atomic pointer store; each request loads that pointer
// once, so it sees the old world or the new one, never a mix. CredentialsChanged rebuilds
// only the per-SNI TLS tables. Ports that stay keep their sockets and connections; removed
// ports drain gracefully.
//
// Requests on a TLS connection are routed only among the hosts of the Server the
// handshake selected: a Host owned by another Server with a different TLS policy gets
// 421 Misdirected Request (Host/SNI binding, so client-certificate checks cannot be
// bypassed by sending one host's SNI and another's Host).
//
// Route policies (design 0013): a route's CORS and fault filters run before its action
// (cors.go, fault.go); a forwarded request with retries — Istio's default has two — or
// mirrors goes through forwardPolicies (retry.go, mirror.go), which replays a bounded body,
// keeps retries within a per-cluster budget and never retries a response that began.
// Each request's Envoy response flags are kept in its exchange (flags.go).
//
// A request's storage is reused once its handler returns (design 0039: the HTTP/2 stream's
// and the lean HTTP/1.1 request's scratch, and the values array the listeners lend the
// response header): its Header, URL, the Request itself and the response header's values
// then belong to another request. Anything that outlives the handler (a mirror, a goroutine
// still running after a timeout, an asynchronous sink) takes r.Clone or copies the
// strings it needs, never a shallow copy of the request.
//
// Layer 4 streams (passthrough, TLS-terminated TCP, TCP; l4.go, design 0014) are routed
// here and copied by package tcpproxy.
//
// Imports: standard library, internal/snapshot, internal/authz/engine (the compiled
// AuthorizationPolicy/RequestAuthentication, checked before routing) and
// internal/dataplane/{listener,router,tcpproxy,upstream}; internal/explain for the decision Explain
// returns (explain.go: the serving path's steps, run without serving); internal/accesslog
// (the Entry of a completed request, for the access log, Istio's metrics and tracing),
// github.com/google/uuid (x-request-id), github.com/pires/go-proxyproto{,/tlvparse} (upstream
// PROXY headers of L4 streams, proxyproto.go). Never resources, source, decode, translate or credential: credentials arrive
// through listener.Credentials.
package dataplane
