package dataplane_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/testkit/otlptest"
	"github.com/portcullis/portcullis/internal/tracing"
)

// BenchmarkObservability is BenchmarkRequestPath's HTTP/1.1 request with each request
// sink on: none (the default cost), Istio's standard metrics, the access log (text, to a
// file), both, and tracing at Istio's default 1 % to a local OTLP/gRPC collector.
func BenchmarkObservability(b *testing.B) {
	f := newFooCorp(b)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(be.Close)
	f.snap.Clusters[0].Endpoints = []string{hostPort(be)}
	log, err := accesslog.Open(filepath.Join(b.TempDir(), "access.log"), accesslog.Text, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = log.Close() })
	rcv := otlptest.Start(b)
	tr, err := tracing.New(context.Background(), tracing.Options{Endpoint: rcv.Addr, Insecure: true, Sampling: tracing.DefaultSampling})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })

	for _, bc := range []struct {
		name string
		opts func(reg prometheus.Registerer) dataplane.Options
	}{
		{"off", func(prometheus.Registerer) dataplane.Options { return dataplane.Options{} }},
		{"istio-metrics", func(reg prometheus.Registerer) dataplane.Options {
			return dataplane.Options{Requests: metrics.NewIstio(reg, metrics.Workload{})}
		}},
		{"access-log", func(prometheus.Registerer) dataplane.Options { return dataplane.Options{Requests: log} }},
		{"access-log+istio-metrics", func(reg prometheus.Registerer) dataplane.Options {
			return dataplane.Options{Requests: accesslog.Sinks{log, metrics.NewIstio(reg, metrics.Workload{})}}
		}},
		{"tracing-1pct", func(prometheus.Registerer) dataplane.Options { return dataplane.Options{Tracer: tr} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			g := startGatewayObs(b, f.snap, f.creds, bc.opts(reg), metrics.New(reg))
			benchGets(b, g.client(b, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient}))
		})
	}
}
