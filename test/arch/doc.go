// Package arch enforces the architecture's dependency direction and house rules (see
// ARCHITECTURE.md and docs/design) as tests, so a violation fails CI with the offending
// import chain or file:line instead of waiting for a reviewer to notice. It reads the
// module's package graph from `go list -deps -json` and parses non-test source files with
// go/parser; it builds nothing.
//
// Rules: the dataplane never reaches the control plane, Kubernetes, Istio or Prometheus;
// translate does no I/O, reads no clock or randomness and starts no goroutines; snapshot
// and diag use the standard library only; credential sees no Kubernetes or Istio types;
// only the composition roots import internal/app and wire the components; no util/common
// packages; every internal package has a doc.go whose "Imports:" paragraph names each
// non-standard package it imports; no init functions, default registries, default HTTP
// clients or servers, global loggers, or unreviewed package-level variables.
//
// Imports: standard library, github.com/google/go-cmp (all in tests; the package has
// no code of its own).
package arch
