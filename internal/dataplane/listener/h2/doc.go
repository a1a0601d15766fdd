// Package h2 serves HTTP/2 (RFC 9113) on connections whose TLS handshake, done by the
// listener, negotiated "h2". It replaces net/http's bundled HTTP/2 server for cost: one
// writer per connection that coalesces the frames of every stream ready at that moment
// into one TLS write (a small response is HEADERS + DATA in one write, no per-frame
// goroutine, no serve-loop channel round trip per frame), the reader handling every frame
// already buffered before it blocks, and pooled buffers.
//
// Framing and HPACK are golang.org/x/net/http2's Framer and hpack; the protocol rules and
// DoS limits follow net/http's h2 server (h2_bundle.go): concurrent streams (excess
// refused), running handlers bounded with a queue of 4x for reset streams (rapid reset),
// header blocks bounded in bytes and frames (CONTINUATION flood), HPACK table and string
// limits, queued control frames bounded (SETTINGS/PING floods), runs of empty DATA frames
// bounded (ours, as Envoy), flow control on both sides,
// bounded write buffers, preface and idle timeouts. Handlers see the *http.Request and
// http.ResponseWriter net/http's h2 server gives them (Flusher, ResponseController,
// trailers, 1xx), except that no Content-Type is sniffed (as in the listener's HTTP/1.1
// loop).
//
// A connection idle for 200 ms with no stream open parks in the server's idle set (package
// idle) without its reader goroutine, read buffer, frame reader or output buffers, until
// the client sends its next frame.
//
// Imports: standard library, golang.org/x/net/http2, golang.org/x/net/http2/hpack,
// golang.org/x/net/http/httpguts, internal/dataplane/listener/idle.
package h2
