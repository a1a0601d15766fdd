// Package authz enforces Istio's AuthorizationPolicy and RequestAuthentication at the
// gateway, as Envoy's jwt_authn and RBAC filters do for an Istio ingress gateway.
//
// Two halves:
//
//   - Translate (translate.go) selects the policies that apply to this gateway (selector,
//     targetRefs, root namespace, the gateway's namespace), checks every field and turns
//     them into snapshot.Security: plain data, in /config_dump, part of the snapshot
//     version. A field that cannot be enforced is a diagnostic and its rule fails closed.
//   - Compile (engine.go) turns snapshot.Security into an Engine once per snapshot; the
//     Engine's Check runs per request: JWT verification (jwt.go, with JWKS fetched and
//     cached by the long-lived Runtime), then CUSTOM, DENY and ALLOW policies in Istio's
//     order. A nil Engine (no policy) costs nothing.
//
// Imports: internal/snapshot, internal/resources, internal/diag, istio.io/api,
// github.com/go-jose/go-jose/v4, prometheus client.
package authz
