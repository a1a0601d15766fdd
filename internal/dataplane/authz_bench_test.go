package dataplane_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/authz/engine"
	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// BenchmarkRequestPathAuthz is BenchmarkRequestPath (mtls-http1) with one ALLOW policy
// whose ipBlocks admit the loopback client: the added cost of an enforced policy.
func BenchmarkRequestPathAuthz(b *testing.B) {
	f := newFooCorp(b)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(be.Close)
	f.snap.Clusters[0].Endpoints = []string{hostPort(be)}
	f.snap.Security = &snapshot.Security{Policies: []snapshot.AuthzPolicy{{
		Name: "istio-system/loopback", Action: "ALLOW",
		Rules: []snapshot.AuthzRule{{From: [][]snapshot.Predicate{{{Key: "source.ip", Values: []string{"127.0.0.0/8"}}}}}},
	}}}
	rt, err := engine.NewRuntime(engine.RuntimeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rt.Close)
	g := startGatewayObs(b, f.snap, f.creds, dataplane.Options{Authz: rt}, metrics.New(prometheus.NewRegistry()))
	benchGets(b, g.client(b, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient}))
}
