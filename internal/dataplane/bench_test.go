package dataplane_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/metrics"
)

// BenchmarkRequestPath measures one request through the whole gateway over loopback
// keep-alive connections: TLS record layer, Host/SNI binding, routing, metrics, proxying
// to a pooled backend connection and back. Run with -benchmem. The client and the backend
// run in the same process: their allocations are counted too.
func BenchmarkRequestPath(b *testing.B) {
	f := newFooCorp(b)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(be.Close)
	f.snap.Clusters[0].Endpoints = []string{hostPort(be)}
	g := startGatewayObs(b, f.snap, f.creds, dataplane.Options{}, metrics.New(prometheus.NewRegistry()))

	for _, bc := range []struct {
		name string
		h2   bool
	}{{"mtls-http1", false}, {"mtls-h2", true}} {
		b.Run(bc.name, func(b *testing.B) {
			benchGets(b, g.client(b, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient, H2: bc.h2}))
		})
	}
}

// benchGets is the timed loop: GET / through c, expecting 200.
func benchGets(b *testing.B, c *http.Client) {
	req, _ := http.NewRequest(http.MethodGet, "https://"+frontendHost+"/", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
