package fieldspec

// VirtualService tls[] and tcp[] routes (issue 13; internal/translate/l4routes.go). At
// Istio's gateway only a match's port and gateways select an L4 rule
// (pilot/pkg/networking/core/gateway.go); the source and destination attributes are
// ignored there, so portcullis rejects them rather than ignoring them silently.
func init() {
	const notAtGateway = "Istio's gateway ignores it (only port and gateways select an L4 rule); the rule fails closed (its connections are closed)"
	Declare("istio.networking.v1alpha3.TLSRoute", Message{
		"match": {Status: Implemented, Reason: "at least one match with sniHosts is required, as in Istio's validation"},
		"route": {Status: Implemented, Reason: "weighted destinations (sum 100); the DestinationRule's connectionPool.tcp connectTimeout, idleTimeout and maxConnections apply"},
	})
	Declare("istio.networking.v1alpha3.TCPRoute", Message{
		"match": {Status: Implemented, Reason: "the first VirtualService and rule whose match applies decide a TCP or TLS-terminating server's destination, as at Istio's gateway"},
		"route": {Status: Implemented, Reason: "weighted destinations (sum 100); the DestinationRule's connectionPool.tcp connectTimeout, idleTimeout and maxConnections apply"},
	})
	Declare("istio.networking.v1alpha3.TLSMatchAttributes", Message{
		"sni_hosts":           {Status: Implemented, Reason: "exact and wildcard SNI names within the VirtualService's hosts, intersected with the PASSTHROUGH server's hosts; a name already routed on the server is skipped with a warning, as in Istio"},
		"destination_subnets": {Status: Rejected, Reason: notAtGateway},
		"port":                {Status: Implemented},
		"source_labels":       {Status: Rejected, Reason: notAtGateway},
		"gateways":            {Status: Implemented},
		"source_namespace":    {Status: Rejected, Reason: notAtGateway},
	})
	Declare("istio.networking.v1alpha3.L4MatchAttributes", Message{
		"destination_subnets": {Status: Rejected, Reason: notAtGateway},
		"port":                {Status: Implemented},
		"source_subnet":       {Status: Rejected, Reason: notAtGateway},
		"source_labels":       {Status: Rejected, Reason: notAtGateway},
		"gateways":            {Status: Implemented},
		"source_namespace":    {Status: Rejected, Reason: notAtGateway},
	})
	Declare("istio.networking.v1alpha3.RouteDestination", Message{
		"destination": {Status: Implemented, Reason: "host, port and subset as for http routes"},
		"weight":      {Status: Implemented, Reason: "weights of a rule sum to 100"},
	})
}
