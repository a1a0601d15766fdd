// Package translate turns a resources.Bundle (Istio Gateways, VirtualServices,
// DestinationRules, ServiceEntries and Kubernetes Services/EndpointSlices) into an immutable
// snapshot.Snapshot plus diagnostics.
//
// It is pure: no I/O, no clock, no goroutines, no randomness, no mutable globals (the
// fieldspec declarations it consults are read-only). The same bundle
// always yields byte-identical output, whatever the order of its slices (conflicts are
// decided by creationTimestamp, then source file and document index, then namespace/name).
// A rejected server, route or destination becomes a diagnostic naming the resource, the
// field and the reason; it never aborts the rest.
//
// Secrets are deliberately not read here: TLS settings only name credentials
// (snapshot.CredentialRef) and the credential store resolves them, so certificate rotation
// never needs a re-translation.
//
// Where we differ from Istio, always towards saying so rather than guessing:
//   - two servers on one port claiming the same host: the later is rejected (Istio merges or
//     drops silently); plain HTTP and HTTPS on one port: the later is rejected;
//   - TLS settings we cannot honour (passthrough, credentialNames, SPKI/hash pinning, ECDH
//     curves, ALPN, versions below 1.2, insecure ciphers) reject the server instead of
//     serving a weaker policy;
//   - a rule we cannot honour as written (a field declared rejected in fieldspec, a bad
//     value, fault, a missing delegate, CR, LF or NUL in a string that reaches an HTTP
//     message or in a match value) fails closed: it stays in place as a snapshot.Fail
//     route answering 500, so its requests are neither served otherwise nor caught by a
//     later rule; a match condition we cannot evaluate is treated as matching, so the
//     failing rule catches a superset (routes.go, match.go, wire.go, design 0012);
//   - a DestinationRule or ServiceEntry setting a field declared rejected (any traffic
//     policy) is an error, and every rule routing to its hosts fails closed;
//   - retries, mirror and CORS are ignored with a warning (until implemented);
//   - a destination we cannot resolve keeps its rule but points at an endpoint-less
//     cluster (503), so a later rule never catches its traffic;
//   - VirtualService hosts no server accepts, and references to Gateways that do not exist
//     or do not apply here, are warnings (Istio is silent).
//
// Imports: standard library, istio.io/api, k8s.io/api, k8s.io/apimachinery (validation
// helpers), golang.org/x/net/http/httpguts (header name and value rules),
// google.golang.org/protobuf (proto, protoreflect: the generic check of declared-rejected
// fields), internal/translate/fieldspec, internal/diag, internal/resources,
// internal/snapshot, google.golang.org/grpc/codes (gRPC status names of fault aborts),
// internal/authz (security policies into snapshot.Security), internal/telemetry (Telemetry
// into snapshot.Telemetry).
package translate
