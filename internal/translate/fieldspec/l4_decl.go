package fieldspec

// Declarations of the L4 routes of a VirtualService (tls[], tcp[]). VirtualService.tls and
// .tcp themselves are declared (rejected) in virtualservice_decl.go; the walk does not
// descend into them while they are rejected.

const l4Reason = "L4 routes: not supported yet"

func init() {
	Declare("istio.networking.v1alpha3.TLSRoute", Message{
		"match": {Rejected, l4Reason},
		"route": {Rejected, l4Reason},
	})
	Declare("istio.networking.v1alpha3.TCPRoute", Message{
		"match": {Rejected, l4Reason},
		"route": {Rejected, l4Reason},
	})
	l4Match := func(fields ...string) Message {
		m := Message{}
		for _, f := range fields {
			m[f] = Rule{Rejected, l4Reason}
		}
		return m
	}
	Declare("istio.networking.v1alpha3.TLSMatchAttributes", l4Match("sni_hosts", "destination_subnets", "port", "source_labels", "gateways", "source_namespace"))
	Declare("istio.networking.v1alpha3.L4MatchAttributes", l4Match("destination_subnets", "port", "source_subnet", "source_labels", "gateways", "source_namespace"))
}
