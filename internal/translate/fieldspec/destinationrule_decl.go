package fieldspec

import networking "istio.io/api/networking/v1alpha3"

// Declarations of DestinationRule (internal/translate index.go, destinations.go).

// TrafficPolicyReason is the reason every DestinationRule traffic policy is rejected.
const TrafficPolicyReason = "DestinationRule traffic policy: not supported yet"

func init() {
	AddRoot("DestinationRule", (&networking.DestinationRule{}).ProtoReflect().Descriptor())
	Declare("istio.networking.v1alpha3.DestinationRule", Message{
		"host":           {Implemented, "resolved as destination hosts are; every DestinationRule for a host is consulted, oldest first (a subset comes from the first that defines it)"},
		"traffic_policy": {Rejected, TrafficPolicyReason + " (load balancing, connection pool, outlier detection, TLS origination, port-level settings, tunnel, proxy protocol, retry budget); routes to the host fail closed"},
		"subsets":        {Implemented, ""},
		"export_to":      {Implemented, "as Istio applies it to a gateway in its own namespace; unset = --default-destination-rule-export-to"},
		"workload_selector": {Implemented, "the rule applies only when it is in the gateway's namespace and its labels " +
			"are a subset of --labels"},
	})
	Declare("istio.networking.v1alpha3.Subset", Message{
		"name":           {Implemented, ""},
		"labels":         {Implemented, "select ServiceEntry endpoints (EndpointSlices carry no pod labels)"},
		"traffic_policy": {Rejected, TrafficPolicyReason + "; routes to the host fail closed"},
	})
	// Shared by DestinationRule, AuthorizationPolicy and RequestAuthentication.
	Declare("istio.type.v1beta1.WorkloadSelector", Message{
		"match_labels": {Implemented, "applies when a subset of the gateway's --labels"},
	})
}
