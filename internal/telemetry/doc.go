// Package telemetry turns the telemetry.istio.io Telemetry resources of a bundle into the
// snapshot's Telemetry: the access log on or off, the tracing sampling percentage and
// Istio's standard metrics on or off, selected and merged as Istio applies Telemetry to a
// gateway (root namespace, then the gateway's namespace, then a workload selector in the
// gateway's namespace, each more specific level overriding). Every field portcullis cannot
// honour is reported with its reason; an error leaves the setting as the flags made it.
//
// Imports: internal/authz (its Options and root namespace default: Telemetry is scoped as the
// security policies are), internal/snapshot, internal/resources, internal/diag, istio.io/api,
// k8s.io/apimachinery (label selectors), standard library.
package telemetry
