package snapshot

// ProxyProtocol is trafficPolicy.proxyProtocol: a PROXY protocol header (HAProxy's
// proxy-protocol.txt) written on every upstream connection of the cluster before any
// other byte, TLS origination included, as Envoy's upstream_proxy_protocol transport
// socket that Istio's cluster builder wraps around the cluster's transport socket.
type ProxyProtocol struct {
	// Version is 1 (text) or 2 (binary).
	Version int `json:"version"`
	// TLVs: on TLS-terminated and passthrough L4 streams, a version 2 header also
	// carries PP2_TYPE_AUTHORITY (the SNI) and, when the gateway terminated TLS,
	// PP2_TYPE_SSL (TLS version, cipher, client certificate verification and CN).
	// portcullis's extension, off unless the DestinationRule's annotation
	// ProxyProtocolTLVsAnnotation says "tls".
	TLVs bool `json:"tlvs,omitempty"`
}

// ProxyProtocolTLVsAnnotation on a DestinationRule switches ProxyProtocol.TLVs on for
// every cluster the rule's proxyProtocol applies to (value "tls"; nothing else is
// accepted).
const ProxyProtocolTLVsAnnotation = "portcullis.io/proxy-protocol-tlvs"
