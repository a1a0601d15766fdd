// Package gatewayapi translates the Kubernetes Gateway API (gateway.networking.k8s.io,
// standard channel of sigs.k8s.io/gateway-api v1.6) into the Istio objects the translator
// already serves, as Istio's own controller does: one Istio Gateway per accepted listener,
// one VirtualService per listener and host holding every attached route rule in Gateway API
// precedence order, and one derived Secret per TLS listener (its certificateRefs and, with
// frontend validation, its CA references), plus one DestinationRule per Service a
// BackendTLSPolicy applies to (upstream TLS, its CA in a derived Secret; backendtls.go). A
// backendRef that cannot be used keeps its weight as a destination the translator answers
// with 500 (resources.FailBackendHost). The translator then builds the snapshot: one
// dataplane, one set of invariants (SNI/Host boundary with 421, per-host client CA, live
// credentials through the credential store, fail closed).
//
// It also computes the status of every GatewayClass, Gateway and route it owns
// ([]status.Update) and reports bad objects as diagnostics (file, resource, field, reason).
// Design: docs/design/0023-gateway-api.md, 0027-gateway-api-backends.md.
//
// Imports: internal/resources, internal/diag, internal/status, istio.io/api,
// sigs.k8s.io/gateway-api (types), k8s.io/api, k8s.io/apimachinery, google.golang.org/protobuf,
// standard library.
package gatewayapi
