// Package authz turns the AuthorizationPolicies and RequestAuthentications of a bundle into
// snapshot.Security for one gateway, as Istio selects and builds them for an ingress
// gateway's Envoy (jwt_authn and rbac filters).
//
// Translate selects the policies that apply to this gateway (selector, targetRefs, root
// namespace, the gateway's namespace), checks every field and turns each rule into plain
// data: attribute predicates in Istio's value syntax (snapshot.AuthzRule). That data is in
// /config_dump and in the snapshot version. A field that cannot be enforced is a diagnostic
// and its rule fails closed (see docs/security.md). The engine sub-package evaluates it.
//
// Imports: internal/authz/engine (value checks), internal/snapshot, internal/resources,
// internal/diag, istio.io/api, standard library.
package authz
