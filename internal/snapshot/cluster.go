package snapshot

// Upstream traffic policy of a Cluster (issue 12): DestinationRule trafficPolicy after
// Istio's merge of the top-level policy, the subset's policy and portLevelSettings for the
// cluster's port (translate/trafficpolicy.go). Each type lives in its own file, owned by
// the code that implements it:
//
//	UpstreamProtocol, h2/h2c/gRPC      cluster_protocol.go
//	UpstreamTLS                        cluster_tls.go
//	LoadBalancer, OutlierDetection     cluster_lb.go
//	ConnectionPool                     cluster_pool.go
//	ProxyProtocol                      cluster_proxyproto.go

// UpstreamProtocol is how the gateway speaks to a cluster's endpoints.
type UpstreamProtocol string

const (
	// UpstreamHTTP1: HTTP/1.1 (the default for HTTP ports).
	UpstreamHTTP1 UpstreamProtocol = ""
	// UpstreamHTTP2: HTTP/2 — h2c with prior knowledge in plaintext, ALPN h2 over TLS
	// (port protocol HTTP2/GRPC/GRPC-WEB, appProtocol, port name prefix, or
	// connectionPool.http.h2UpgradePolicy UPGRADE).
	UpstreamHTTP2 UpstreamProtocol = "HTTP2"
	// UpstreamClientProtocol: the protocol the client used (connectionPool.http.useClientProtocol).
	UpstreamClientProtocol UpstreamProtocol = "CLIENT"
)
