// Package idle holds idle connections without a goroutine each. A Set is an epoll set
// (Linux) of sockets that wait for their next input; one goroutine waits on the set —
// itself parked in Go's poller on the epoll descriptor — and, when a socket becomes
// readable (data, EOF or an error) or its deadline passes, runs the connection's resume
// function on a fresh goroutine. A goroutine waiting per connection would cost its stack
// (2–8 KiB) for as long as the connection idles; a parked connection costs its Entry and
// a timer. Elsewhere Park reports false and callers wait on a goroutine as before.
//
// Every party that ends a parking — the wake-up, the deadline, Evict, Close — first takes
// the Entry out of the set under one mutex, so exactly one of them resumes it, and the
// socket leaves the epoll set while its descriptor is still open (a closed descriptor's
// number can be reused by the next accept).
//
// The caller must park only a connection with no input buffered above the socket (in
// crypto/tls or a bufio.Reader): readiness of the socket is all the set sees.
//
// Imports: standard library.
package idle
