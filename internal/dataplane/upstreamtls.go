package dataplane

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/upstream"
)

// Upstream TLS (DestinationRule trafficPolicy.tls): the clusters of every snapshot share
// one upstream.TLSEnv (credentials, session caches, observer); failures show in the
// access log (%UPSTREAM_TRANSPORT_FAILURE_REASON%) and, through an Observer implementing
// upstream.TLSObserver, in metrics.

// ClientCredential is an upstream client credential's material (see
// upstream.ClientCredentials): a Credentials value that also has a method
// ClientCredential(key string) (ClientCredential, bool) serves DestinationRule client
// credentials to every cluster.
type ClientCredential = upstream.ClientCredential

// newUpstreamTLS builds the shared upstream TLS state from the dataplane's credentials
// (when they serve client credentials too) and observer.
func newUpstreamTLS(creds Credentials, obs Observer, logger *slog.Logger) *upstream.TLSEnv {
	cc, _ := creds.(upstream.ClientCredentials)
	to, _ := obs.(upstream.TLSObserver)
	if cc == nil {
		logger.Debug("no client credentials source: upstream TLS with a credential fails closed")
	}
	return upstream.NewTLSEnv(cc, to)
}

// noteTransportFailure keeps the reason of an upstream TLS failure for the access log.
func (s *statusRecorder) noteTransportFailure(err error) {
	if r := upstream.TransportFailureReason(err); r != "" {
		s.transportFailure = r
	}
}

// dialStream connects an L4 stream to endpoint ep of cl, the runtime of the stream's
// cluster, originating TLS when its DestinationRule sets it (SNI: its sni, else none: auto
// SNI needs an HTTP Host). As Envoy, the TLS handshake is part of connecting: one timeout
// bounds both, and a TLS failure refuses the stream as a connect failure; never plaintext.
// header (a PROXY protocol header, proxyproto.go; nil: none) is written on the socket
// first, before TLS, as Envoy's upstream_proxy_protocol socket wraps the TLS one.
func dialStream(cl *upstream.Cluster, ep string, timeout time.Duration, header []byte) (net.Conn, error) {
	c := cl.Spec
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	raw, err := dialL4(ctx, c, ep) // the pool's TCP settings (pool.go)
	if err == nil && len(header) > 0 {
		if err = writeHeader(ctx, raw, header); err != nil { // proxyproto.go; closes raw
			return nil, err
		}
	}
	if err != nil || c.TLS == nil {
		return raw, err
	}
	tc, err := cl.Handshake(ctx, raw, ep, c.TLS.SNI) // closes raw on failure
	if err != nil {
		return nil, err
	}
	return tc, nil
}
