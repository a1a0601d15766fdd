// Package engine enforces snapshot.Security on requests: per snapshot, Runtime.Compile
// builds an Engine (matchers compiled, JWKS bound); per request, Engine.Check runs the JWT
// verification of RequestAuthentication (Envoy's jwt_authn, go-jose), then CUSTOM, DENY
// and ALLOW policies in Istio's order (Envoy's rbac), and answers 401/403 as Envoy does.
// The Runtime outlives snapshots: it fetches and refreshes jwksUri key sets in the
// background and keeps the last good set. A nil Engine (no policy) costs nothing.
//
// Imports: internal/snapshot, github.com/go-jose/go-jose/v4, standard library. Never
// resources, istio.io or prometheus: metrics arrive through the Observer interface.
package engine
