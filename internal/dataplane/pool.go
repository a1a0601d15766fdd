package dataplane

import (
	"context"
	"net"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// OverflowObserver is optionally implemented by an Observer (package metrics does) to
// count the circuit breakers of clusters' connection pools that trip (design 0022):
// breaker is one of upstream.Breaker*, cluster the cluster's name.
type OverflowObserver interface {
	UpstreamOverflow(cluster, breaker string)
}

// overflowObserver returns obs's UpstreamOverflow, nil when it has none.
func overflowObserver(obs Observer) func(cluster, breaker string) {
	if o, ok := obs.(OverflowObserver); ok {
		return o.UpstreamOverflow
	}
	return nil
}

// maxRetries is the cluster's connectionPool.http.maxRetries (Envoy's max_retries
// threshold: retries in progress), 0 when unset.
func maxRetries(cl *upstream.Cluster) int64 {
	if cl == nil || cl.Spec == nil || cl.Spec.Pool == nil {
		return 0
	}
	return int64(cl.Spec.Pool.MaxRetries)
}

// dialL4 connects an L4 stream to ep with the cluster's TCP settings (connectionPool.tcp
// keep-alive), within ctx; without a pool policy as tcpproxy.Dial.
func dialL4(ctx context.Context, c *snapshot.Cluster, ep string) (net.Conn, error) {
	if c.Pool == nil {
		return tcpproxy.Dial(ctx, ep, 0)
	}
	d := upstream.Dialer(c.Pool, 0)
	return d.DialContext(ctx, "tcp", ep)
}

// maxDuration closes both sides of an L4 stream once it is older than the cluster's
// connectionPool.tcp.maxConnectionDuration (Istio's tcp_proxy
// max_downstream_connection_duration); nil when unset. The returned stop ends the timer.
func maxDuration(c *snapshot.Cluster, x *tcpproxy.Proxy, down, up net.Conn) func() bool {
	if c.Pool == nil || c.Pool.MaxConnectionDurationMillis <= 0 {
		return nil
	}
	return time.AfterFunc(time.Duration(c.Pool.MaxConnectionDurationMillis)*time.Millisecond, func() {
		// Through the stream's event loop when it has one (Proxy.Close).
		_ = x.Close(down)
		if up != nil { // nil: a stream the loop carries, ended by closing down
			_ = x.Close(up)
		}
	}).Stop
}
