// Package cli holds the cobra commands (run, validate, certs, demo, version). Commands are
// thin: they parse flags into options and call internal/app, internal/certs or
// internal/demo, and print what those return (diagnostics from internal/diag). Defaults
// that depend on where the binary runs (namespace and labels from the downward API) come
// from internal/source/kube.
//
// Imports: github.com/spf13/cobra, internal/app, internal/certs, internal/demo,
// internal/diag, internal/explain, internal/gcfloor, internal/source/kube, internal/translate
// (exportTo defaults and their validation), internal/status with sigs.k8s.io/gateway-api and
// k8s.io/apimachinery (to print the Gateway API status validate computed), standard library.
package cli
