// Package listener terminates TLS for one gateway port and serves HTTP on it: it owns the
// socket, selects the Server of a connection by SNI (exact, longest wildcard, then "*"),
// builds every Server's *tls.Config ahead of use from the credentials it is given, binds
// session tickets to the Server and its client-auth policy, verifies client certificates
// (the chain, remembered per Server while valid; SANs; CRLs), and records the Server a
// handshake selected on the connection (Conn) so the HTTP handler can enforce Host/SNI
// binding.
//
// HTTP/1.1 (TLS with ALPN http/1.1 or none, and plain-HTTP ports) is served by our own
// connection loop (serve.go, head.go, request.go, response.go, frame.go, body.go,
// watch.go, timeout.go) in
// place of http.Server, for cost: no goroutine or background read per request, the
// response header written without cloning the map, and an idle keep-alive connection
// holding no bufio buffers and, after 200 ms, no goroutine either (it is parked in the
// listener's epoll set, package idle). It keeps net/http's server semantics (the common request head — complete
// in the buffer, origin-form, no body — is read by leanParse with fewer allocations and
// held to http.ReadRequest by a differential test and two fuzz targets; every other head
// is read by http.ReadRequest itself; the checks, error responses, framing, 100-continue, body draining, timeouts and
// shutdown follow net/http's server.go) so handlers see a normal *http.Request and an
// http.ResponseWriter that also supports Flusher, Hijacker and ResponseController. A
// differential test and fuzz target run it against http.Server itself (diff_test.go); the
// differences kept on purpose (no Content-Type sniffing, a stricter check of a target's
// authority) and the stream idle and request timeouts are in docs/design/0011-h1-loop-
// vs-net-http.md. Connections that negotiate
// "h2" are handed, handshaken, to our HTTP/2 server (package h2, for the same reasons);
// so are plaintext connections that open with the HTTP/2 preface (h2c with prior
// knowledge, h2c.go), as Envoy detects them on a plain port.
//
// Layer 4 (l4.go, clienthello.go; design 0014): on ports with PASSTHROUGH servers the
// ClientHello's SNI is read before TLS and such connections are handed raw to
// Config.Stream; connections of TLS-terminated TCP servers (after the handshake) and of
// plain TCP ports go there too, never to HTTP.
//
// Key material reaches this package only through the Credentials interface it declares
// (stdlib types), so it never imports the credential store or Kubernetes types.
//
// Imports: standard library, golang.org/x/net/http/httpguts, internal/snapshot,
// internal/dataplane/router, internal/dataplane/listener/{h2,idle},
// internal/dataplane/tcpproxy (raw socket reads for the ClientHello peek, and raw reads
// and writes under TLS on HTTP connections, design 0025), github.com/pires/go-proxyproto
// (downstream PROXY headers, proxyproto.go, design 0029).
package listener
