// Package admin serves the admin listener: /healthz/ready, /metrics, /config_dump, /certs
// and, when enabled, /debug/pprof/. It reads gateway state through the small State interface
// it declares; it never sees key material (the state it is given is already redacted).
//
// Imports: github.com/prometheus/client_golang (prometheus, promhttp), standard library.
package admin
