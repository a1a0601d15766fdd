package snapshot

// ConnectionPool is trafficPolicy.connectionPool (Envoy circuit breakers and connection
// settings), after Istio's merge for the cluster's port and subset. Every field is
// resolved: a limit of 0 is unlimited (Istio sets Envoy's thresholds to 2^32-1 when the
// DestinationRule gives none), timeouts carry Istio's defaults. The protocol fields of
// connectionPool.http (h2UpgradePolicy, useClientProtocol) are Cluster.Protocol.
type ConnectionPool struct {
	// Circuit breakers of the cluster, counted across all its endpoints (Envoy
	// circuit_breakers thresholds). Over a limit a request gets 503 with flag UO.

	// MaxConnections: tcp.maxConnections, open upstream connections (HTTP and L4).
	MaxConnections uint32 `json:"maxConnections,omitempty"`
	// MaxPendingRequests: http.http1MaxPendingRequests, requests waiting for a
	// connection while MaxConnections are open.
	MaxPendingRequests uint32 `json:"maxPendingRequests,omitempty"`
	// MaxRequests: http.http2MaxRequests, requests in progress (every protocol).
	MaxRequests uint32 `json:"maxRequests,omitempty"`
	// MaxRetries: http.maxRetries, retries in progress; 0 keeps the retry budget of
	// design 0013.
	MaxRetries uint32 `json:"maxRetries,omitempty"`

	// Per connection.

	// ConnectTimeoutMillis: tcp.connectTimeout (default 10 s).
	ConnectTimeoutMillis int64 `json:"connectTimeoutMillis"`
	// IdleTimeoutMillis closes an HTTP upstream connection idle for that long:
	// http.idleTimeout, else tcp.idleTimeout, else 1 h; 0 = never.
	IdleTimeoutMillis int64 `json:"idleTimeoutMillis"`
	// TCPIdleTimeoutMillis closes an L4 stream with no bytes either way for that long:
	// tcp.idleTimeout (default 1 h); 0 = never.
	TCPIdleTimeoutMillis int64 `json:"tcpIdleTimeoutMillis"`
	// MaxConnectionDurationMillis: tcp.maxConnectionDuration; an HTTP connection older
	// than that takes no new request and is closed once idle. 0 = unlimited.
	MaxConnectionDurationMillis int64 `json:"maxConnectionDurationMillis,omitempty"`
	// MaxRequestsPerConnection: http.maxRequestsPerConnection; 0 = unlimited, 1 turns
	// keep-alive off.
	MaxRequestsPerConnection uint32 `json:"maxRequestsPerConnection,omitempty"`
	// Keepalive: tcp.tcpKeepalive, TCP keep-alive probes on upstream sockets; nil = the
	// operating system's setting (off unless enabled).
	Keepalive *TCPKeepalive `json:"tcpKeepalive,omitempty"`

	// HTTP/2 only (Istio sets them on the cluster's explicit HTTP/2 protocol options: an
	// HTTP2/GRPC port or h2UpgradePolicy UPGRADE, not useClientProtocol).

	// MaxConcurrentStreams: http.maxConcurrentStreams, streams per HTTP/2 connection
	// (below the backend's SETTINGS_MAX_CONCURRENT_STREAMS); beyond it another
	// connection is opened. 0 = the backend's limit alone.
	MaxConcurrentStreams uint32 `json:"maxConcurrentStreams,omitempty"`
	// H2Keepalive: http.http2KeepAlive, PING frames on HTTP/2 connections; nil = the
	// gateway's default (a PING after 30 s without frames, 15 s to answer).
	H2Keepalive *H2Keepalive `json:"http2KeepAlive,omitempty"`
}

// H2Keepalive is http2KeepAlive: a connection without frames for Interval is sent a
// PING; one that does not answer within Timeout is closed.
type H2Keepalive struct {
	IntervalMillis int64 `json:"intervalMillis"`
	TimeoutMillis  int64 `json:"timeoutMillis"`
}

// TCPKeepalive is SO_KEEPALIVE with its parameters; 0 = the operating system's default.
type TCPKeepalive struct {
	Probes          uint32 `json:"probes,omitempty"`
	TimeSeconds     uint32 `json:"timeSeconds,omitempty"`
	IntervalSeconds uint32 `json:"intervalSeconds,omitempty"`
}

// Limited reports whether p sets a cluster-wide limit (a circuit breaker).
func (p *ConnectionPool) Limited() bool {
	return p != nil && (p.MaxConnections|p.MaxPendingRequests|p.MaxRequests|p.MaxRetries) != 0
}
