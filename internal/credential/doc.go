// Package credential is the gateway's secret discovery service (SDS): it turns the key
// material a snapshot references (Kubernetes Secret data or file-mount paths) into
// validated, immutable, versioned Credentials and serves them lock-free to the TLS
// handshake path.
//
// A Credential is parsed once per input version (content hash) and validated: PEM
// parses, the key matches the certificate, the chain builds from the leaf through the
// intermediates, validity against an injected clock, CA bundle and CRLs. An invalid new
// version never replaces the last good one; a deleted secret removes the credential
// (deletion is how operators revoke). Subscribers are told after every change so the
// dataplane can rebuild its per-SNI TLS table without re-translating routes.
//
// Imports: standard library, internal/diag, internal/snapshot. Never Kubernetes types
// (docs/design/0001): the store sits on the handshake path, so callers convert Secrets to
// map[string][]byte. The dataplane does not import it either: it declares its own
// listener.Credential view, which internal/app adapts this package's Credential to.
package credential
