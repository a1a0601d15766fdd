package upstream

import "crypto/tls"

// ClientTLS returns the TLS client configuration for dialling the cluster's endpoints
// (DestinationRule trafficPolicy.tls), or nil for plaintext. Every transport (HTTP/1.1,
// HTTP/2, TCP) originates TLS through it; an HTTP/2 transport adds ALPN "h2" to a clone.
// An error means the cluster's TLS cannot be set up now (e.g. its client credential is
// missing): the request fails with 503 and flag UF, never in plaintext.
func (c *Cluster) ClientTLS() (*tls.Config, error) {
	return nil, nil
}
