package snapshot

// UpstreamTLS is trafficPolicy.tls: TLS originated by the gateway towards the endpoints.
type UpstreamTLS struct {
	// Mode: "SIMPLE" or "MUTUAL" (DISABLE yields no UpstreamTLS; ISTIO_MUTUAL is rejected).
	Mode string `json:"mode"`
}
