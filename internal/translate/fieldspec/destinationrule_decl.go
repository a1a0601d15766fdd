package fieldspec

import networking "istio.io/api/networking/v1alpha3"

// Declarations of DestinationRule (internal/translate index.go, destinations.go).

// TrafficPolicyReason is the reason every DestinationRule traffic policy is rejected.
const TrafficPolicyReason = "DestinationRule traffic policy: not supported yet"

func init() {
	AddRoot("DestinationRule", (&networking.DestinationRule{}).ProtoReflect().Descriptor())
	Declare("istio.networking.v1alpha3.DestinationRule", Message{
		"host":           {Implemented, "resolved as destination hosts are; every DestinationRule for a host is consulted, oldest first (a subset comes from the first that defines it)"},
		"traffic_policy": {Implemented, "loadBalancer, outlierDetection, tls, and connectionPool.tcp connectTimeout, idleTimeout and maxConnections for tls[]/tcp[] destinations; every other field is rejected (see TrafficPolicy)"},
		"subsets":        {Implemented, ""},
		"export_to":      {Implemented, "as Istio applies it to a gateway in its own namespace; unset = --default-destination-rule-export-to"},
		"workload_selector": {Implemented, "the rule applies only when it is in the gateway's namespace and its labels " +
			"are a subset of --labels"},
	})
	Declare("istio.networking.v1alpha3.Subset", Message{
		"name":           {Implemented, ""},
		"labels":         {Implemented, "select ServiceEntry endpoints (EndpointSlices carry no pod labels)"},
		"traffic_policy": {Implemented, "as the top-level trafficPolicy, overriding it field by field"},
	})
	rejected := Rule{Rejected, TrafficPolicyReason + "; routes to the host fail closed"}
	Declare("istio.networking.v1alpha3.TrafficPolicy", Message{
		"load_balancer":       {Implemented, "see LoadBalancerSettings (design 0021)"},
		"connection_pool":     {Implemented, "tcp settings of L4 destinations (see ConnectionPoolSettings)"},
		"outlier_detection":   {Implemented, "Envoy's consecutive-error detectors (see OutlierDetection)"},
		"tls":                 {Implemented, "TLS origination to the endpoints, HTTP and tls[]/tcp[] routes (see ClientTLSSettings)"},
		"port_level_settings": rejected,
		"tunnel":              rejected,
		"proxy_protocol":      rejected,
		"retry_budget":        rejected,
	})
	Declare("istio.networking.v1alpha3.ConnectionPoolSettings", Message{
		"tcp":  {Implemented, "for tls[]/tcp[] destinations; an http route to the host fails closed"},
		"http": {Implemented, "see HTTPSettings"},
	})
	Declare("istio.networking.v1alpha3.ConnectionPoolSettings.HTTPSettings", Message{
		"h2_upgrade_policy": {Implemented, "UPGRADE: HTTP/2 to the endpoints (h2c in plaintext, ALPN h2 over TLS); " +
			"DEFAULT and DO_NOT_UPGRADE keep the port's protocol (the mesh default is DO_NOT_UPGRADE)"},
		"use_client_protocol": {Implemented, "the request goes out in the client's protocol (HTTP/2 or HTTP/1.1); " +
			"overrides the port's protocol and h2UpgradePolicy"},
		"http1_max_pending_requests":  rejected,
		"http2_max_requests":          rejected,
		"max_requests_per_connection": rejected,
		"max_retries":                 rejected,
		"idle_timeout":                rejected,
		"max_concurrent_streams":      rejected,
		"http2_keep_alive":            rejected,
	})
	l4Only := "for tls[]/tcp[] destinations (Envoy tcp_proxy semantics); an http route to a host whose DestinationRule sets it fails closed"
	Declare("istio.networking.v1alpha3.ConnectionPoolSettings.TCPSettings", Message{
		"max_connections":         {Implemented, l4Only + "; over the limit a connection is refused and counted"},
		"connect_timeout":         {Implemented, l4Only + "; default 10s"},
		"idle_timeout":            {Implemented, l4Only + "; default 1h, 0s disables"},
		"tcp_keepalive":           rejected,
		"max_connection_duration": rejected,
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
		"ca_cert_credential_name": {Rejected, "not supported yet; routes to the cluster fail closed"},
		"subject_alt_names":       {Implemented, "the upstream certificate must carry one (exact match, Envoy's match_subject_alt_names); unset with sni unset: verified against the request's Host (auto SAN validation)"},
		"sni":                     {Implemented, "unset: the request's Host (Envoy auto_sni, as Istio sets it); no SNI on tls[]/tcp[] routes"},
		"insecure_skip_verify":    {Implemented, "the upstream certificate is not verified; warned by validate and at startup"},
		"ca_crl":                  {Implemented, "PEM or DER CRLs signed by the caCertificates bundle; a revoked upstream certificate fails the handshake"},
	})
	// Shared by DestinationRule, AuthorizationPolicy and RequestAuthentication.
	Declare("istio.type.v1beta1.WorkloadSelector", Message{
		"match_labels": {Implemented, "applies when a subset of the gateway's --labels"},
	})
}
