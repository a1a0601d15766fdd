package load

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// ModeGRPC is gRPC unary calls (the standard health Check) over one HTTP/2 connection per
// worker (TLS, ALPN h2, the host's client certificate), Streams calls in flight on each.
const ModeGRPC = "grpc"

// GRPCConn opens a gRPC client connection to t (passthrough: exactly t.Addr, one HTTP/2
// connection) with t's TLS and :authority t.Host.
func GRPCConn(t Target) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+t.Addr, grpc.WithTransportCredentials(credentials.NewTLS(t.TLS)),
		grpc.WithAuthority(t.Host))
}

// GRPCCheck makes one unary health Check call on cc and describes the outcome: "OK
// SERVING" (or another serving status), else the gRPC status code's name.
func GRPCCheck(ctx context.Context, cc *grpc.ClientConn, method string) string {
	resp := new(healthpb.HealthCheckResponse)
	if err := cc.Invoke(ctx, method, &healthpb.HealthCheckRequest{}, resp); err != nil {
		return status.Code(err).String()
	}
	return "OK " + resp.GetStatus().String()
}

// grpcWorker drives one gRPC connection with r.cfg.Streams concurrent callers (closed
// loop). A call counts only when it ends with status OK and the answer SERVING; any other
// status is an error "grpc_<code>".
func grpcWorker(ctx context.Context, r *run, t Target) {
	cc, err := GRPCConn(t)
	if err != nil {
		r.fail(r.newStats(), "grpc_client")
		return
	}
	defer cc.Close()
	method := t.Path
	if method == "" || method == "/" {
		method = healthpb.Health_Check_FullMethodName
	}
	var wg sync.WaitGroup
	for range r.cfg.Streams {
		ws := r.newStats()
		wg.Go(func() {
			req := &healthpb.HealthCheckRequest{}
			resp := new(healthpb.HealthCheckResponse)
			for !r.done() {
				start := time.Now()
				cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
				err := cc.Invoke(cctx, method, req, resp)
				cancel()
				switch {
				case err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING:
					r.ok(ws, start)
				case err == nil:
					r.fail(ws, "grpc_not_serving")
				case r.done():
				default:
					r.fail(ws, "grpc_"+status.Code(err).String())
					if status.Code(err) == codes.Unavailable && backoff(ctx) {
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
