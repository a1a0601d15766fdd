// Package resources defines Bundle, the complete set of typed inputs a source (files or the
// Kubernetes API) publishes: Istio networking objects decoded into the official istio.io/api
// types (all served versions alias v1alpha3), and the Kubernetes core objects the gateway
// reads. It holds data only; no I/O.
//
// Imports: istio.io/api, k8s.io/api, sigs.k8s.io/gateway-api (types), internal/diag.
package resources
