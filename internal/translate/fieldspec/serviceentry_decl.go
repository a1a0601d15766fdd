package fieldspec

import networking "istio.io/api/networking/v1alpha3"

// Declarations of ServiceEntry (internal/translate endpoints.go, destinations.go).

func init() {
	AddRoot("ServiceEntry", (&networking.ServiceEntry{}).ProtoReflect().Descriptor())
	Declare("istio.networking.v1alpha3.ServiceEntry", Message{
		"hosts":             {Implemented, "destination hosts"},
		"addresses":         {NoEffect, "virtual IPs for sidecar interception; the gateway routes by destination host"},
		"ports":             {Implemented, ""},
		"location":          {NoEffect, "MESH_EXTERNAL/MESH_INTERNAL decide Istio mTLS and telemetry labels, which portcullis does not originate"},
		"resolution":        {Implemented, "STATIC, DNS and DNS_ROUND_ROBIN; NONE is an error (routes get 503)"},
		"endpoints":         {Implemented, ""},
		"workload_selector": {Rejected, "ServiceEntry workloadSelector: not supported yet; routes to the host fail closed"},
		"export_to":         {Implemented, "as Istio applies it to a gateway in its own namespace; unset = --default-service-export-to"},
		"subject_alt_names": {Implemented, "verify the upstream certificate when a DestinationRule originates TLS (SIMPLE/MUTUAL) without subjectAltNames of its own, as Istio does"},
	})
	Declare("istio.networking.v1alpha3.ServicePort", Message{
		"number":      {Implemented, ""},
		"protocol":    {NoEffect, "the gateway forwards HTTP in plaintext whatever the protocol, as Istio does without a DestinationRule tls policy"},
		"name":        {Implemented, "keys WorkloadEntry ports"},
		"target_port": {Implemented, "the endpoints' port when the endpoint does not name one"},
	})
	Declare("istio.networking.v1alpha3.WorkloadEntry", Message{
		"address":         {Implemented, "IP (STATIC) or host name (DNS)"},
		"ports":           {Implemented, ""},
		"labels":          {Implemented, "selected by DestinationRule subsets"},
		"network":         {NoEffect, "multi-network routing through east-west gateways does not apply: every endpoint is dialled directly"},
		"locality":        {NoEffect, "used only by locality load balancing, a DestinationRule traffic policy (rejected)"},
		"weight":          {Rejected, "endpoint weights: not supported yet (endpoints are picked round robin); routes to the host fail closed"},
		"service_account": {NoEffect, "identity for Istio mTLS, which portcullis does not originate"},
	})
}
