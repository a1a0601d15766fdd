// Package load is the benchmark's load generator: mutual-TLS clients that drive a target
// with HTTP/1.1 keep-alive connections, HTTP/2 multiplexed streams, a new full handshake
// per request (no resumption), or hold many idle connections to measure memory. It charges
// the target the CPU it used in the measured window (from /proc), so CPU per request and
// per handshake is exact to the kernel's tick.
//
// The client offers TLS 1.3 with X25519 only, so Go and OpenSSL peers do the same key
// exchange (OpenSSL 3.0 has no post-quantum hybrid).
//
// Mode grpc makes gRPC unary calls (the standard health Check) with grpc-go's client.
//
// Imports: standard library, grpc-go, and bench/internal/proc, bench/internal/pki.
package load
