// Package report holds the benchmark's raw results (written as JSON) and renders them as
// docs/performance.md: per target the median and min–max over interleaved rounds, the
// ratios of portcullis to the best of nginx and HAProxy, and the memory, scale and
// rotation figures.
//
// Imports: standard library and bench/internal/load, bench/internal/policy.
package report
