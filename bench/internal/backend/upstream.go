package backend

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// GRPCMethod is the unary call the gRPC benchmark makes (and the only one the targets
// route): the standard health check, so no generated code of our own is needed.
const GRPCMethod = healthpb.Health_Check_FullMethodName

// Counts is what the upstream listeners saw: TLS handshakes by kind, requests, gRPC calls.
type Counts struct {
	HandshakesFull    int64 `json:"handshakesFull"`
	HandshakesResumed int64 `json:"handshakesResumed"`
	HandshakeErrors   int64 `json:"handshakeErrors"`
	Requests          int64 `json:"requests"`
	GRPCCalls         int64 `json:"grpcCalls"`
}

// Stats counts what the upstream listeners serve; safe for concurrent use.
type Stats struct {
	full, resumed, failed, requests, calls atomic.Int64
}

// Snapshot returns the counts, zeroing them when reset is set.
func (s *Stats) Snapshot(reset bool) Counts {
	get := func(v *atomic.Int64) int64 {
		if reset {
			return v.Swap(0)
		}
		return v.Load()
	}
	return Counts{HandshakesFull: get(&s.full), HandshakesResumed: get(&s.resumed), HandshakeErrors: get(&s.failed),
		Requests: get(&s.requests), GRPCCalls: get(&s.calls)}
}

// Handler serves GET /counts (JSON Counts; ?reset=1 zeroes them after reading).
func (s *Stats) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Snapshot(r.URL.Query().Get("reset") != ""))
	})
}

// ServeTLSRaw is ServeRaw over TLS with cfg (the upstream's own certificate; session
// tickets as cfg says, Go's default being on, so clients can resume). Each handshake is
// counted as full or resumed in st, and a connection is closed (Connection: close on the
// response) after connRequests requests when connRequests > 0, so that clients keep
// making new upstream connections at a fixed rate.
func ServeTLSRaw(ctx context.Context, ln net.Listener, cfg *tls.Config, connRequests int, st *Stats) error {
	return serveRaw(ctx, ln, func(c net.Conn, cache *responses) {
		tc := tls.Server(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			st.failed.Add(1)
			return
		}
		if tc.ConnectionState().DidResume {
			st.resumed.Add(1)
		} else {
			st.full.Add(1)
		}
		serveConnLimit(tc, cache, connRequests, &st.requests)
	})
}

// ServeGRPC serves the standard gRPC health service (status SERVING) over h2c on ln,
// counting calls in st, until ctx ends.
func ServeGRPC(ctx context.Context, ln net.Listener, st *Stats) error {
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		st.calls.Add(1)
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer()) // "" is SERVING
	var once sync.Once
	stop := context.AfterFunc(ctx, func() { once.Do(srv.Stop) })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) && ctx.Err() == nil {
		return err
	}
	return nil
}
