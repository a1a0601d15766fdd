// Package admin serves the admin listener: /healthz/ready, /metrics, /config_dump, /certs,
// /explain (one request's decision, from the live snapshot), /ui (a read-only web view
// whose assets are embedded) and, when enabled, /debug/pprof/. It reads gateway state through the small State interface
// it declares; it never sees key material (the state it is given is already redacted).
//
// Imports: github.com/prometheus/client_golang (prometheus, promhttp), internal/explain,
// standard library.
package admin
