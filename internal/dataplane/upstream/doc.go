// Package upstream forwards requests to clusters: per-snapshot cluster endpoint lists with
// round-robin selection, and one long-lived proxy over shared, pooled upstream connections
// (they survive snapshot swaps). A cluster whose DestinationRule sets a load-balancing
// policy, weighted endpoints or outlier detection gets a balancer (lb.go, lbhash.go,
// outlier.go) whose per-endpoint state a Registry keeps across snapshots (design 0021);
// every Pick is paired with a Report of the attempt's outcome.
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
// Clusters whose protocol is HTTP/2 (a GRPC/HTTP2 port, h2UpgradePolicy UPGRADE, or
// useClientProtocol with an HTTP/2 client) go through the same ReverseProxy over
// golang.org/x/net/http2's Transport instead (h2.go): h2c with prior knowledge, or ALPN h2
// over the cluster's ClientTLS (design 0020).
//
// Upstream TLS (DestinationRule trafficPolicy.tls, clustertls.go, tlsconn.go): every
// transport gets its TLS configuration from (*Cluster).ClientTLS, built per client
// credential version and verified as Envoy does; pooled connections are keyed by the
// cluster's TLS identity, so a connection never serves another cluster or plaintext; a
// TLS failure is a connect failure (503, UF). Design 0019.
//
// Clusters with a DestinationRule trafficPolicy.proxyProtocol are served by a Proxy of
// their own per PROXY protocol version, whose connections start with the header
// (proxyproto.go): a connection that began with one never serves another cluster.
//
// Errors map to Istio/Envoy's statuses: connect failures and resets 503, timeouts 504; a
// gRPC request gets them as Envoy's gRPC local reply (200, grpc-status 14; h2grpc.go).
// Upgrades other than WebSocket are refused with 403, as Istio's gateway does.
//
// Imports: standard library, golang.org/x/net/http/httpguts (header validity, as
// http.Transport checks it), golang.org/x/net/http2 (HTTP/2 to backends),
// github.com/cespare/xxhash/v2 (Envoy's hash function, for consistent hashing),
// github.com/pires/go-proxyproto (PROXY protocol headers, proxyproto.go, design 0029),
// internal/snapshot and internal/dataplane/tcpproxy (raw socket reads and writes on pooled
// plaintext HTTP/1.1 connections, design 0025).
package upstream
