package snapshot

// Layer 4 (issue 13): TLS passthrough by SNI, TLS-terminated TCP and plain TCP.
//
// A listener of Protocol HTTPS carries TLS on the wire: its Servers terminate TLS for HTTP
// (VirtualHosts), terminate TLS for a byte stream (TCP true, TCPRoutes), or pass TLS through
// unterminated (Passthrough true, TLS nil, TLSRoutes). SNI selects the Server exactly as
// for HTTPS. A listener of Protocol TCP has exactly one Server (TLS nil, TCP true) holding
// the tcp[] routes of every VirtualService bound to the port.

// TCP is a listener proxying plain byte streams (Gateway protocol TCP, MONGO, MYSQL, ...).
const TCP Protocol = "TCP"

// TLSPassthrough is the TLS mode of a Gateway server that forwards TLS unterminated.
const TLSPassthrough TLSMode = "PASSTHROUGH"

// L4Route is one VirtualService tls[] or tcp[] rule, flattened for one server.
type L4Route struct {
	// Name: "<vs-namespace>/<vs-name>/tls/<index>" or ".../tcp/<index>".
	Name string `json:"name"`
	// Match: OR of matches (tls[] routes only; a tcp[] route applies to every connection
	// of its server, as at Istio's gateway).
	Match        []L4Match       `json:"match,omitempty"`
	Destinations []L4Destination `json:"destinations"`
}

// L4Match is one TLSMatchAttributes (tls[] routes): the SNI names it selects. As at
// Istio's gateway, port and gateways were resolved by the translator; the other
// attributes are rejected there.
type L4Match struct {
	// SNIHosts: exact names, "*.suffix" wildcards or "*", lower case.
	SNIHosts []string `json:"sniHosts"`
}

// L4Destination is one weighted destination of an L4Route with the TCP connection pool
// settings of its cluster (DestinationRule trafficPolicy.connectionPool.tcp).
type L4Destination struct {
	// Cluster.Name; "" for a Gateway API backendRef that cannot be used: the connections
	// picked for it are refused, respecting its weight, as TLSRoute and TCPRoute require.
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
	// ConnectTimeoutMillis bounds connecting to an endpoint (Istio default 10 s).
	ConnectTimeoutMillis int64 `json:"connectTimeoutMillis"`
	// IdleTimeoutMillis closes a stream with no bytes either way for that long (Istio
	// default 1 h); 0 = none.
	IdleTimeoutMillis int64 `json:"idleTimeoutMillis"`
	// MaxConnections to the cluster at once (through this gateway); 0 = unlimited.
	MaxConnections uint32 `json:"maxConnections,omitempty"`
}
