// Package otlptest runs a real OTLP/gRPC trace collector on loopback for tests: the
// collector service of go.opentelemetry.io/proto/otlp served by grpc-go, keeping every
// span it receives. Only tests import it.
//
// Imports: go.opentelemetry.io/proto/otlp, google.golang.org/grpc, standard library.
package otlptest
