// Package metrics owns the gateway's Prometheus collectors, registered on an injected
// registry (never the default one). Its Metrics type implements the small observer
// interfaces that the dataplane and the credential store declare, so those packages never
// import Prometheus.
//
// Imports: github.com/prometheus/client_golang (prometheus, collectors), internal/accesslog
// (the Entry Istio's standard metrics are recorded from), standard library.
package metrics
