package gatewayapi_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A Gateway is accepted only when at least one of its listeners is (Gateway API, and the
// conformance test GatewayListenerUnsupportedProtocol).
func TestGatewayAcceptedNeedsAnAcceptedListener(t *testing.T) {
	invalid := "  - {name: invalid, port: 1111, protocol: INVALID}\n"
	r := run(t, gatewayWith("none", "2024-01-01T00:00:00Z", invalid), addrGateway("some", "2024-01-02T00:00:00Z", invalid))
	none := r.update(t, "Gateway", "ns", "none").Status.(*gwv1.GatewayStatus)
	wantCond(t, none.Conditions, "Accepted", metav1.ConditionFalse, "ListenersNotValid")
	wantCond(t, r.listener(t, "ns", "none", "invalid").Conditions, "Accepted", metav1.ConditionFalse, "UnsupportedProtocol")
	some := r.update(t, "Gateway", "ns", "some").Status.(*gwv1.GatewayStatus)
	wantCond(t, some.Conditions, "Accepted", metav1.ConditionTrue, "ListenersNotValid")
	wantCond(t, some.Conditions, "Programmed", metav1.ConditionTrue, "Programmed")
}
