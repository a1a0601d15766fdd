// Package peers writes equivalent configurations for every benchmark target — portcullis
// (Istio YAML), nginx, HAProxy and the direct Go server — and says how to start each.
//
// Equivalent means: one TLS port with a certificate chosen by SNI and a per-host client CA
// (mutual TLS required, unknown SNI rejected in the handshake, no session tickets), a Host
// bound to the SNI its connection chose (421 otherwise), routing by Host with exact "/" to
// the host's upstream (404 otherwise), X-Forwarded-For/-Proto/-Host and X-Forwarded-Client-Cert (hash and subject) set, HTTP/1.1 keep-alive to
// the upstream with the same idle pool size, no access log. Layout.UpstreamTLS makes every
// target originate TLS to the upstream (same CA, SNI and name check, sessions resumed);
// Layout.GRPC adds an exact-path route to an h2c gRPC backend.
//
// Imports: standard library and bench/internal/pki (its tests also use internal/decode and
// internal/source/file, to check the generated configuration the way the gateway reads it).
package peers
