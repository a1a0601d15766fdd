// Package status carries the status the translator computes for Kubernetes Gateway API
// objects (GatewayClass, Gateway, HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, ...) to the
// writer that puts it on the API server.
//
// The translator (internal/gatewayapi) produces one Update per object it owns on every
// snapshot; in Kubernetes mode the writer (this package) applies them from exactly one
// replica at a time, the leader of a client-go Lease; in file mode they are shown by
// `portcullis validate` and the admin endpoint instead.
//
// Imports: standard library only.
package status
