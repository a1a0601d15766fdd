// Package snapshot is the data-plane IR: an immutable, validated description of what the
// gateway serves. The translator builds it; the dataplane only reads it. It is plain data
// with JSON tags (the /config_dump format and the translator goldens), deterministic in
// order, and holds no key material: TLS settings name credentials, the credential store
// holds them.
//
// Imports: standard library only.
package snapshot
