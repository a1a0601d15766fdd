// Package accesslog is the per-request record of the gateway (Entry), its consumers
// (Sink: the access log here, Istio's standard metrics in internal/metrics) and the
// access log itself: Istio's default text format or Istio's JSON format, written to
// stdout or a file by one writer goroutine behind a bounded queue, so that a request never
// waits on the disk. A full queue drops the entry and counts it (Dropped).
//
// The data plane fills Entries and the metrics package reads them, neither importing the
// other.
//
// Imports: standard library.
package accesslog
