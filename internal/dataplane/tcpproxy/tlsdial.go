package tcpproxy

import (
	"context"
	"net"
	"time"
)

// Handshake originates TLS on a connected socket (DestinationRule trafficPolicy.tls: the
// cluster's upstream.Cluster.Handshake); it closes raw on failure.
type Handshake func(ctx context.Context, raw net.Conn) (net.Conn, error)

// DialTLS is Dial followed by handshake, both within timeout (Envoy counts the TLS
// handshake as part of connecting: a failure is a connect failure).
func DialTLS(ctx context.Context, addr string, timeout time.Duration, handshake Handshake) (net.Conn, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	raw, err := Dial(ctx, addr, 0)
	if err != nil {
		return nil, err
	}
	return handshake(ctx, raw)
}
