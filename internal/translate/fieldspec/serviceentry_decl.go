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
		"number": {Implemented, ""},
		"protocol": {Implemented, "HTTP2, GRPC and GRPC-WEB: HTTP/2 to the endpoints (h2c in plaintext, ALPN h2 over TLS); " +
			"other protocols: HTTP/1.1 for http routes"},
		"name":        {Implemented, "keys WorkloadEntry ports"},
		"target_port": {Implemented, "the endpoints' port when the endpoint does not name one"},
	})
	Declare("istio.networking.v1alpha3.WorkloadEntry", Message{
		"address":         {Implemented, "IP (STATIC) or host name (DNS)"},
		"ports":           {Implemented, ""},
		"labels":          {Implemented, "selected by DestinationRule subsets"},
		"network":         {NoEffect, "multi-network routing through east-west gateways does not apply: every endpoint is dialled directly"},
		"locality":        {NoEffect, "used only by locality load balancing, a DestinationRule traffic policy (rejected)"},
		"weight":          {Implemented, "the endpoint's load-balancing weight (0 = 1): weighted round robin, LEAST_REQUEST, ring hash and Maglev; RANDOM ignores weights, as Envoy's"},
		"service_account": {NoEffect, "identity for Istio mTLS, which portcullis does not originate"},
	})
}
