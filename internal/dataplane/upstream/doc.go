// Package upstream forwards requests to clusters: per-snapshot cluster endpoint lists with
// round-robin selection, and one long-lived proxy over shared, pooled upstream connections
// (they survive snapshot swaps).
//
// The common case — a GET or HEAD without a body to a plain HTTP/1.1 upstream, answered
// with a response of known length — takes the lean forward path (lean*.go): the request
// head is written straight from the inbound request and the response head copied into the
// client's header map on the handler's goroutine, without httputil.ReverseProxy's request
// clone, http.Response or persistConn goroutines. It writes exactly the bytes ReverseProxy
// would (a differential test holds the two paths to that). Everything else goes through
// httputil.ReverseProxy: bodies, upgrades and Expect over http.Transport, other bodiless
// requests over the lean round tripper (h1.go), and responses the lean path does not copy
// (1xx, chunked, close-delimited, event streams) are read by http.ReadResponse and handed
// to ReverseProxy mid-exchange. Each ReverseProxy request carries its Target (endpoint,
// rewrites, header operations, client-certificate details) in its context; its Rewrite
// applies it. Both paths set X-Forwarded-For/Proto/Host afresh (client-supplied values are
// dropped) and always replace X-Forwarded-Client-Cert.
//
// A pooled connection is looked at (one non-blocking peek) before every reuse and swept
// once a second while idle: one that became readable or closed is closed, never reused,
// so bytes a backend sends after a complete response never reach another request. A
// second differential test (and fuzz target) holds the lean client to http.Transport:
// design 0009.
//
// Errors map to Istio/Envoy's statuses: connect failures and resets 503, timeouts 504.
//
// Imports: standard library, golang.org/x/net/http/httpguts (header validity, as
// http.Transport checks it), internal/snapshot and internal/dataplane/tcpproxy (raw
// socket reads and writes on pooled HTTP/1.1 connections, design 0025).
package upstream
