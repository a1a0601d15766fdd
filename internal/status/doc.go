// Package status carries the status the translator computes for Kubernetes Gateway API
// objects (GatewayClass, Gateway, HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, ...) to the
// writer that puts it on the API server.
//
// The translator (internal/gatewayapi) produces one Update per object it owns on every
// snapshot; in Kubernetes mode the writer (this package) applies them from exactly one
// replica at a time, the leader of a client-go Lease; in file mode they are shown by
// `portcullis validate` and the admin endpoint instead.
//
// Writer (writer.go) is that Kubernetes Sink: the typed gateway-api clientset's
// UpdateStatus on the status subresource, after merging with what the server has
// (merge.go: lastTransitionTime kept while a condition's status holds, other controllers'
// route parents and policy ancestors kept, server-side defaults filled before comparing),
// only when something changed, under conflict retries and a rate limit. kinds.go maps each
// kind to its typed client. Design: docs/design/0024-gateway-api-status-and-conformance.md.
//
// Imports: k8s.io/apimachinery, k8s.io/client-go (leader election, retry, rate limiter),
// sigs.k8s.io/gateway-api (API types and typed clientset), standard library.
package status
