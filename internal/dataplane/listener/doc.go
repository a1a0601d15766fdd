// Package listener terminates TLS for one gateway port: it owns the socket, selects the
// Server of a connection by SNI (exact, longest wildcard, then "*"), builds every Server's
// *tls.Config ahead of use from the credentials it is given, binds session tickets to the
// Server and its client-auth policy, verifies client certificates (the chain, remembered
// per Server while valid; SANs; CRLs), and runs an http.Server (HTTP/1.1 and HTTP/2 via
// ALPN) over it. The Server a handshake selected is
// recorded on the connection (Conn) so the HTTP handler can enforce Host/SNI binding.
//
// Key material reaches this package only through the Credentials interface it declares
// (stdlib types), so it never imports the credential store or Kubernetes types.
//
// Imports: standard library, internal/snapshot, internal/dataplane/router.
package listener
