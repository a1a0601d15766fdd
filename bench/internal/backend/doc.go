// Package backend is the benchmark's upstream: a tiny HTTP server answering the
// walkthrough's bodies per Host, and, in direct mode, the same answers over per-SNI mutual
// TLS with the SNI/Host binding (421) — the Go floor the proxies are compared with.
//
// For the backends benchmark it also serves the bodies over TLS (counting full and resumed
// handshakes) and the gRPC health service over h2c.
//
// Imports: standard library, grpc-go and bench/internal/pki.
package backend
