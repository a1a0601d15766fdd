package dataplane

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
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

// dialStream connects an L4 stream to endpoint ep of cluster c, originating TLS when the
// cluster's DestinationRule sets it (SNI: its sni, else none: auto SNI needs an HTTP
// Host). A TLS failure refuses the stream, as a connect failure; never plaintext.
func (d *Dataplane) dialStream(c *snapshot.Cluster, ep string, timeout time.Duration) (net.Conn, error) {
	if c.TLS == nil {
		return dialL4(c, ep, timeout)
	}
	uc := d.state.Load().clusters.Get(c.Name)
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	raw, err := dialL4(c, ep, timeout) // the pool's TCP settings (pool.go)
	if err != nil {
		return nil, err
	}
	return uc.Handshake(ctx, raw, ep, c.TLS.SNI)
}
