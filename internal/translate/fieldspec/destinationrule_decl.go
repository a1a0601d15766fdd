package fieldspec

import networking "istio.io/api/networking/v1alpha3"

// Declarations of DestinationRule (internal/translate index.go, destinations.go).

// TrafficPolicyReason is the reason every DestinationRule traffic policy is rejected.
const TrafficPolicyReason = "DestinationRule traffic policy: not supported yet"

func init() {
	AddRoot("DestinationRule", (&networking.DestinationRule{}).ProtoReflect().Descriptor())
	Declare("istio.networking.v1alpha3.DestinationRule", Message{
		"host":           {Implemented, "resolved as destination hosts are; every DestinationRule for a host is consulted, oldest first (a subset comes from the first that defines it)"},
		"traffic_policy": {Implemented, "loadBalancer, outlierDetection, and connectionPool.tcp connectTimeout, idleTimeout and maxConnections for tls[]/tcp[] destinations; every other field is rejected (see TrafficPolicy)"},
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
		"tls":                 rejected,
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
	// Shared by DestinationRule, AuthorizationPolicy and RequestAuthentication.
	Declare("istio.type.v1beta1.WorkloadSelector", Message{
		"match_labels": {Implemented, "applies when a subset of the gateway's --labels"},
	})
}
