// Package resources: see resources.go. Imports: istio.io/api, k8s.io/api, internal/diag.
package resources
