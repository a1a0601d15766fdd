// Package tcpproxy copies byte streams between a client connection and an upstream
// endpoint the way Envoy's tcp_proxy filter does: the upstream connection is opened
// within a connect timeout, a cluster's concurrent connections are bounded
// (maxConnections, refusals counted by the caller), bytes flow both ways until each side
// has finished, a half-close (FIN) is propagated to the other side while the other
// direction keeps flowing, and a stream with no bytes either way for the idle timeout is
// closed.
//
// Between two *net.TCPConn the copy is io.Copy, which Go runs as splice(2) on Linux (no
// copy through user space): neither end is wrapped, the idle timeout is enforced with
// read deadlines (a deadline interrupts a splice loop without losing bytes) rather than
// with a counting reader, and bytes are counted each time a copy call returns.
//
// The small messages of a stream's start (a TLS handshake) are read and written with raw
// non-blocking system calls through syscall.RawConn on Linux (rawio.go): the poller,
// deadlines and Close work as for net.Conn, without the runtime's entersyscall, which
// wakes its sysmon thread after every idle period (measured: docs/performance.md).
//
// On Linux, with Engine EngineLoop, a stream between two TCP sockets is copied by an
// event loop (loop.go, design 0036): a few goroutines, each with an epoll instance of its own
// (waited on through Go's poller) holding both sockets of its streams, edge-triggered
// with EPOLLRDHUP, so that one wake-up serves every ready socket, no read returns EAGAIN
// and a stream needs no goroutine per direction; its upstream socket is made with raw
// system calls (DialLoop, dial_linux.go). A stream that moves bulk data leaves the loop
// for the goroutine path above, which splices. Engine selects the path; Close ends a
// loop stream from outside. FuzzEnginesPipe holds the loop to the goroutine path.
//
// Workers (workers.go) runs a listener's connections and a stream's second copy direction
// on reused goroutines, so that a new connection does not grow a fresh goroutine stack
// again (design 0033).
//
// Imports: standard library only.
package tcpproxy
