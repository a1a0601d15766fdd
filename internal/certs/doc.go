// Package certs generates the walkthrough's PKI: for every host its own root CA, an
// intermediate CA, a server certificate and a client certificate, laid out on disk as
// the Istio secure-ingress walkthrough expects (DIR/HOST/1_root, 2_intermediate,
// 3_application, 4_client), plus Secret manifests byte-compatible with
// `kubectl create secret generic --dry-run=client -o yaml`.
//
// It is operator tooling (the `portcullis certs` command, the demo and tests), never on
// the serving path.
//
// Imports: standard library, k8s.io/api core/v1, k8s.io/apimachinery meta/v1,
// sigs.k8s.io/yaml.
package certs
