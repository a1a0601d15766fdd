// Package decode turns YAML or JSON bytes (one or many documents, or a v1 List) into a
// resources.Bundle of typed objects, strictly: unknown fields, bad enum values, wrong types,
// duplicate keys and bad base64 are errors, reported as diag.Diagnostics naming the file,
// document index, resource and field. A bad document never stops the others from loading.
// Kinds portcullis does not use are warnings, not errors.
//
// Istio objects are decoded by reading the Kubernetes envelope strictly and then the spec
// with protojson (DiscardUnknown off), because the JSON shims in istio.io/client-go ignore
// unknown fields and would silently drop a typo such as "credentalName".
//
// Decode does no I/O and keeps no state; it is safe for concurrent use.
//
// Imports: internal/diag, internal/resources, istio.io/api, k8s.io/api, k8s.io/apimachinery,
// sigs.k8s.io/yaml, sigs.k8s.io/json, sigs.k8s.io/gateway-api (types), google.golang.org/protobuf, standard library.
package decode
