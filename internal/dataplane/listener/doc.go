// Package listener terminates TLS for one gateway port and serves HTTP on it: it owns the
// socket, selects the Server of a connection by SNI (exact, longest wildcard, then "*"),
// builds every Server's *tls.Config ahead of use from the credentials it is given, binds
// session tickets to the Server and its client-auth policy, verifies client certificates
// (the chain, remembered per Server while valid; SANs; CRLs), and records the Server a
// handshake selected on the connection (Conn) so the HTTP handler can enforce Host/SNI
// binding.
//
// HTTP/1.1 (TLS with ALPN http/1.1 or none, and plain-HTTP ports) is served by our own
// connection loop (serve.go, request.go, response.go, frame.go, body.go, watch.go) in
// place of http.Server, for cost: no goroutine or background read per request, the
// response header written without cloning the map, and an idle keep-alive connection
// holding no bufio buffers and, after 200 ms, no goroutine either (it is parked in the
// listener's epoll set, package idle). It keeps net/http's server semantics (the common request head — complete
// in the buffer, origin-form, no body — is read by leanParse with fewer allocations and
// held to http.ReadRequest by a differential test and two fuzz targets; every other head
// is read by http.ReadRequest itself; the checks, error responses, framing, 100-continue, body draining, timeouts and
// shutdown follow net/http's server.go) so handlers see a normal *http.Request and an
// http.ResponseWriter that also supports Flusher, Hijacker and ResponseController. The
// one difference a client can observe: no Content-Type is sniffed for responses that
// have none (see docs/design/0004-own-http1-server-loop.md). Connections that negotiate
// "h2" are handed, handshaken, to our HTTP/2 server (package h2, for the same reasons).
//
// Key material reaches this package only through the Credentials interface it declares
// (stdlib types), so it never imports the credential store or Kubernetes types.
//
// Imports: standard library, golang.org/x/net/http/httpguts, internal/snapshot,
// internal/dataplane/router, internal/dataplane/listener/{h2,idle}.
package listener
