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
// Workers (workers.go) runs a listener's connections and a stream's second copy direction
// on reused goroutines, so that a new connection does not grow a fresh goroutine stack
// again (design 0033).
//
// Imports: standard library only.
package tcpproxy
