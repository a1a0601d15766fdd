package fieldspec

import networking "istio.io/api/networking/v1alpha3"

// Declarations of DestinationRule (internal/translate index.go, destinations.go).

// TrafficPolicyReason is the reason every DestinationRule traffic policy is rejected.
const TrafficPolicyReason = "DestinationRule traffic policy: not supported yet"

func init() {
	AddRoot("DestinationRule", (&networking.DestinationRule{}).ProtoReflect().Descriptor())
	Declare("istio.networking.v1alpha3.DestinationRule", Message{
		"host":           {Implemented, "resolved as destination hosts are; every DestinationRule for a host is consulted, oldest first (a subset comes from the first that defines it)"},
		"traffic_policy": {Implemented, "merged for each cluster's port and subset as Istio merges it; fields not supported yet are rejected (see TrafficPolicy)"},
		"subsets":        {Implemented, ""},
		"export_to":      {Implemented, "as Istio applies it to a gateway in its own namespace; unset = --default-destination-rule-export-to"},
		"workload_selector": {Implemented, "the rule applies only when it is in the gateway's namespace and its labels " +
			"are a subset of --labels"},
	})
	Declare("istio.networking.v1alpha3.Subset", Message{
		"name":           {Implemented, ""},
		"labels":         {Implemented, "select ServiceEntry endpoints by their labels, and a Kubernetes Service's endpoints by the labels of their Pod (EndpointSlice targetRef, or the Pod's address)"},
		"traffic_policy": {Implemented, "as the top-level trafficPolicy, overriding it field by field"},
	})
	rejected := Rule{Rejected, TrafficPolicyReason + "; routes to the host fail closed"}
	Declare("istio.networking.v1alpha3.TrafficPolicy", Message{
		"load_balancer":       {Implemented, "see LoadBalancerSettings (design 0021)"},
		"connection_pool":     {Implemented, "Envoy's circuit breakers and connection settings of the cluster, for http, tls and tcp routes (see ConnectionPoolSettings)"},
		"outlier_detection":   {Implemented, "Envoy's consecutive-error detectors (see OutlierDetection)"},
		"tls":                 {Implemented, "TLS origination to the endpoints, HTTP and tls[]/tcp[] routes (see ClientTLSSettings)"},
		"port_level_settings": {Implemented, "the entry for the cluster's port replaces connectionPool, loadBalancer, outlierDetection and tls wholesale (unset ones are not inherited), as Istio merges it"},
		"tunnel":              rejected,
		"proxy_protocol": {Implemented, "a PROXY header (V1 or V2) on every upstream connection, before TLS origination (Envoy's " +
			"upstream_proxy_protocol): tls[]/tcp[] streams carry the client's and the gateway's addresses; pooled HTTP connections carry " +
			"their own (V1) or a LOCAL header (V2), as Envoy without downstream PROXY state (design 0029). " +
			"Annotation portcullis.io/proxy-protocol-tlvs: tls adds TLS TLVs to V2 stream headers"},
		"retry_budget": rejected,
	})
	Declare("istio.networking.v1alpha3.TrafficPolicy.ProxyProtocol", Message{
		"version": {Implemented, "V1 (the default) or V2"},
	})
	Declare("istio.networking.v1alpha3.TrafficPolicy.PortTrafficPolicy", Message{
		"port":              {Implemented, "selects the cluster port the entry applies to"},
		"connection_pool":   {Implemented, "as trafficPolicy.connectionPool"},
		"load_balancer":     {Implemented, "as trafficPolicy.loadBalancer"},
		"outlier_detection": {Implemented, "as trafficPolicy.outlierDetection"},
		"tls":               {Implemented, "as trafficPolicy.tls"},
	})
	Declare("istio.networking.v1alpha3.ConnectionPoolSettings", Message{
		"tcp":  {Implemented, ""},
		"http": {Implemented, ""},
	})
	breaker := "; over the limit a request gets 503 with response flag UO, counted in portcullis_upstream_overflow_total"
	Declare("istio.networking.v1alpha3.ConnectionPoolSettings.TCPSettings", Message{
		"max_connections": {Implemented, "open connections to the cluster's endpoints from this gateway (HTTP and L4; Envoy max_connections). " +
			"HTTP: at the limit a request waits as pending; an endpoint without any connection still gets one, as in Envoy. L4: a connection over the limit is refused and counted"},
		"connect_timeout": {Implemented, "HTTP and L4; default 10s"},
		"idle_timeout": {Implemented, "L4 streams with no bytes either way (default 1h, 0s disables); HTTP upstream connections when " +
			"http.idleTimeout is unset"},
		"tcp_keepalive": {Implemented, "SO_KEEPALIVE with probes, time and interval on upstream sockets (HTTP and L4); times are whole seconds, at least 1s"},
		"max_connection_duration": {Implemented, "HTTP: a connection that old takes no new request and is closed once idle; L4: the stream is closed " +
			"(Istio's tcp_proxy max_downstream_connection_duration)"},
	})
	Declare("istio.networking.v1alpha3.ConnectionPoolSettings.TCPSettings.TcpKeepalive", Message{
		"probes":   {Implemented, ""},
		"time":     {Implemented, ""},
		"interval": {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.ConnectionPoolSettings.HTTPSettings", Message{
		"http1_max_pending_requests": {Implemented, "requests waiting for a connection (Envoy max_pending_requests)" + breaker},
		"http2_max_requests": {Implemented, "requests in progress to the cluster, every protocol (Envoy max_requests); counted from the request's " +
			"admission, so requests waiting for a connection count" + breaker},
		"max_requests_per_connection": {Implemented, "a connection is closed after that many requests; 1 disables keep-alive"},
		"max_retries": {Implemented, "retries in progress to the cluster (Envoy max_retries), instead of the default retry budget; " +
			"a retry over the limit is not made (flag UO)"},
		"idle_timeout": {Implemented, "upstream connections idle that long are closed (default 1h)"},
		"h2_upgrade_policy": {Implemented, "UPGRADE: HTTP/2 to the endpoints (h2c in plaintext, ALPN h2 over TLS); " +
			"DEFAULT and DO_NOT_UPGRADE keep the port's protocol (the mesh default is DO_NOT_UPGRADE)"},
		"use_client_protocol": {Implemented, "the request goes out in the client's protocol (HTTP/2 or HTTP/1.1); " +
			"overrides the port's protocol and h2UpgradePolicy"},
		"max_concurrent_streams": {Implemented, "HTTP/2 clusters: streams per upstream connection (at most the backend's " +
			"SETTINGS_MAX_CONCURRENT_STREAMS); beyond it another connection is opened. No effect on HTTP/1.1 and useClientProtocol " +
			"clusters, as in Istio"},
		"http2_keep_alive": {Implemented, "HTTP/2 clusters: a connection without frames for interval is sent a PING and closed " +
			"when no answer comes within timeout (Envoy pings every interval, busy or not). No effect on HTTP/1.1 and " +
			"useClientProtocol clusters, as in Istio"},
	})
	Declare("istio.networking.v1alpha3.ConnectionPoolSettings.HTTPSettings.ConnectionKeepalive", Message{
		"interval": {Implemented, "required"},
		"timeout":  {Implemented, "required"},
	})
	declareLoadBalancing()
	// Upstream TLS (internal/translate/upstreamtls.go, dataplane/upstream/clustertls.go).
	Declare("istio.networking.v1alpha3.ClientTLSSettings", Message{
		"mode":               {Implemented, "DISABLE, SIMPLE, MUTUAL; ISTIO_MUTUAL is rejected (no mesh CA) and routes to the cluster fail closed"},
		"client_certificate": {Implemented, "MUTUAL: PEM file, read through the credential store (rotation, last good kept)"},
		"private_key":        {Implemented, "MUTUAL: PEM file, read with clientCertificate"},
		"ca_certificates":    {Implemented, "PEM file verifying the upstream; unset (and no credentialName): the system roots, as Istio's default \"system\""},
		"credential_name": {Implemented, "a Secret in the gateway's namespace, through the same credential store as server credentials: " +
			"MUTUAL reads tls.crt/tls.key (or cert/key) and the CA (ca.crt/cacert, or a <name>-cacert Secret); SIMPLE reads only the CA"},
		"ca_cert_credential_name": {Rejected, "Istio's gateway does not read it for DestinationRules (only for Gateway servers); " +
			"put the CA in the credentialName Secret (ca.crt) or a <credentialName>-cacert Secret; routes to the cluster fail closed"},
		"subject_alt_names":    {Implemented, "the upstream certificate must carry one (exact match, Envoy's match_subject_alt_names); unset with sni unset: verified against the request's Host (auto SAN validation)"},
		"sni":                  {Implemented, "unset: the request's Host (Envoy auto_sni, as Istio sets it); no SNI on tls[]/tcp[] routes"},
		"insecure_skip_verify": {Implemented, "the upstream certificate is not verified; warned by validate and at startup"},
		"ca_crl":               {Implemented, "PEM or DER CRLs signed by the caCertificates bundle; a revoked upstream certificate fails the handshake"},
	})
	// Shared by DestinationRule, AuthorizationPolicy and RequestAuthentication.
	Declare("istio.type.v1beta1.WorkloadSelector", Message{
		"match_labels": {Implemented, "applies when a subset of the gateway's --labels"},
	})
}
