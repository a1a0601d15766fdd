// Package translate turns a resources.Bundle (Istio Gateways, VirtualServices,
// DestinationRules, ServiceEntries and Kubernetes Services/EndpointSlices) into an immutable
// snapshot.Snapshot plus diagnostics.
//
// It is pure: no I/O, no clock, no goroutines, no randomness, no globals. The same bundle
// always yields byte-identical output. A rejected server, route or destination becomes a
// diagnostic naming the resource, the field and the reason; it never aborts the rest.
//
// Secrets are deliberately not read here: TLS settings only name credentials
// (snapshot.CredentialRef) and the credential store resolves them, so certificate rotation
// never needs a re-translation.
//
// Imports: standard library, istio.io/api, k8s.io/api, k8s.io/apimachinery (validation
// helpers), google.golang.org/protobuf, internal/diag, internal/resources, internal/snapshot.
package translate
