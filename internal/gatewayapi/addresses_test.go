package gatewayapi_test

import (
	"fmt"
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/gatewayapi"
)

// addrGateway is a Gateway with one HTTP listener on port 80 without hostname (as the
// conformance suite's base Gateways), extra spec and status lines appended.
func addrGateway(name, created, extra string) string {
	return gatewayWith(name, created, "  - {name: http, port: 80, protocol: HTTP}\n"+extra)
}

// gatewayWith is a Gateway in namespace ns whose spec.listeners (and anything after) are
// the given lines.
func gatewayWith(name, created, listeners string) string {
	return fmt.Sprintf("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: %s, namespace: ns, creationTimestamp: %q}\nspec:\n  gatewayClassName: portcullis\n  listeners:\n%s", name, created, listeners)
}

func (r result) addresses(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, a := range r.update(t, "Gateway", "ns", name).Status.(*gwv1.GatewayStatus).Addresses {
		out = append(out, a.Value)
	}
	return out
}

// bindsOf lists the bind addresses of the snapshot's listeners of port 80.
func (r result) bindsOf(port uint32) map[string]bool {
	out := map[string]bool{}
	for _, l := range r.snap.Listeners {
		if l.Port == port {
			out[l.Bind] = true
		}
	}
	return out
}

// With a pool, Gateways that would conflict on a shared address each get an address of
// their own: no conflict, one listener per address, status.addresses the bound address.
func TestAddressPool(t *testing.T) {
	pool := netip.MustParsePrefix("127.0.10.0/24")
	r := translateOpts(t, gatewayapi.Options{AddressPool: pool}, class,
		addrGateway("a", "2024-01-01T00:00:00Z", ""),
		addrGateway("b", "2024-01-02T00:00:00Z", ""),
		addrGateway("c", "2024-01-03T00:00:00Z", "status:\n  addresses: [{type: IPAddress, value: 127.0.10.77}]\n"),
	)
	r.noDiagnostics(t)
	seen := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		wantCond(t, r.listener(t, "ns", name, "http").Conditions, "Conflicted", metav1.ConditionFalse, "NoConflicts")
		wantCond(t, r.update(t, "Gateway", "ns", name).Status.(*gwv1.GatewayStatus).Conditions, "Programmed", metav1.ConditionTrue, "Programmed")
		addrs := r.addresses(t, name)
		if len(addrs) != 1 || !pool.Contains(netip.MustParseAddr(addrs[0])) || addrs[0] == "127.0.10.0" || addrs[0] == "127.0.10.255" {
			t.Fatalf("Gateway %s: status.addresses %v, want one usable address of %s", name, addrs, pool)
		}
		if other, dup := seen[addrs[0]]; dup {
			t.Fatalf("Gateways %s and %s share %s", other, name, addrs[0])
		}
		seen[addrs[0]] = name
		if !r.bindsOf(80)[addrs[0]] {
			t.Errorf("no listener of port 80 binds %s (Gateway %s): %v", addrs[0], name, r.bindsOf(80))
		}
	}
	if got := r.addresses(t, "c"); got[0] != "127.0.10.77" {
		t.Errorf("Gateway c moved from its status address 127.0.10.77 to %s", got[0])
	}
	if r.bindsOf(80)[""] {
		t.Error("a listener of port 80 binds the shared listen host")
	}
	// Deterministic: the same input assigns the same addresses.
	again := translateOpts(t, gatewayapi.Options{AddressPool: pool}, class,
		addrGateway("b", "2024-01-02T00:00:00Z", ""), addrGateway("a", "2024-01-01T00:00:00Z", ""),
		addrGateway("c", "2024-01-03T00:00:00Z", "status:\n  addresses: [{type: IPAddress, value: 127.0.10.77}]\n"))
	for addr, name := range seen {
		if got := again.addresses(t, name); got[0] != addr {
			t.Errorf("Gateway %s: %s, then %s", name, addr, got[0])
		}
	}
}

// A status address another Gateway's spec.addresses claims is given up; an exhausted
// pool leaves the youngest Gateway unprogrammed (AddressNotAssigned), never sharing.
func TestAddressPoolClaimsAndExhaustion(t *testing.T) {
	pool := netip.MustParsePrefix("127.0.10.8/31") // two addresses
	r := translateOpts(t, gatewayapi.Options{AddressPool: pool}, class,
		addrGateway("fixed", "2024-01-01T00:00:00Z", "  addresses: [{type: IPAddress, value: 127.0.10.8}]\n"),
		addrGateway("moved", "2024-01-02T00:00:00Z", "status:\n  addresses: [{type: IPAddress, value: 127.0.10.8}]\n"),
		addrGateway("late", "2024-01-03T00:00:00Z", ""),
	)
	if got := r.addresses(t, "fixed"); len(got) != 1 || got[0] != "127.0.10.8" {
		t.Errorf("fixed: %v", got)
	}
	if got := r.addresses(t, "moved"); len(got) != 1 || got[0] != "127.0.10.9" {
		t.Errorf("moved: %v, want 127.0.10.9", got)
	}
	st := r.update(t, "Gateway", "ns", "late").Status.(*gwv1.GatewayStatus)
	wantCond(t, st.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	wantCond(t, st.Conditions, "Programmed", metav1.ConditionFalse, "AddressNotAssigned")
	wantCond(t, r.listener(t, "ns", "late", "http").Conditions, "Programmed", metav1.ConditionFalse, "Invalid")
	if len(st.Addresses) != 0 {
		t.Errorf("late: status.addresses %v without an address", st.Addresses)
	}
	if !hasDiag(r.diags, "spec.addresses", "address pool 127.0.10.8/31 is exhausted") {
		t.Errorf("no exhaustion diagnostic: %v", r.diags)
	}
	if b := r.bindsOf(80); len(b) != 2 || !b["127.0.10.8"] || !b["127.0.10.9"] {
		t.Errorf("port 80 binds %v", b)
	}
}

// spec.addresses: one IPAddress is bound even without a pool; a Hostname or a second
// address cannot be bound and the Gateway is not accepted. Without an address of their
// own, Gateways report the published addresses.
func TestSpecAddresses(t *testing.T) {
	r := translateOpts(t, gatewayapi.Options{PublishAddresses: []string{"192.0.2.1", "gw.example.com"}}, class,
		addrGateway("ip", "2024-01-01T00:00:00Z", "  addresses: [{type: IPAddress, value: \"::1\"}]\n"),
		addrGateway("host", "2024-01-02T00:00:00Z", "  addresses: [{type: Hostname, value: gw.example.com}]\n"),
		addrGateway("two", "2024-01-03T00:00:00Z", "  addresses: [{value: 127.0.0.5}, {value: 127.0.0.6}]\n"),
		addrGateway("shared", "2024-01-04T00:00:00Z", ""),
	)
	if got := r.addresses(t, "ip"); len(got) != 1 || got[0] != "::1" {
		t.Errorf("ip: %v", got)
	}
	if !r.bindsOf(80)["::1"] || !r.bindsOf(80)[""] {
		t.Errorf("port 80 binds %v, want ::1 and the listen host", r.bindsOf(80))
	}
	for _, name := range []string{"host", "two"} {
		st := r.update(t, "Gateway", "ns", name).Status.(*gwv1.GatewayStatus)
		wantCond(t, st.Conditions, "Accepted", metav1.ConditionFalse, "UnsupportedAddress")
		if len(st.Addresses) != 0 {
			t.Errorf("%s (not accepted): status.addresses %v", name, st.Addresses)
		}
	}
	if !hasDiag(r.diags, "spec.addresses[0].type", "address type Hostname is not supported") ||
		!hasDiag(r.diags, "spec.addresses[1]", "only one address per Gateway") {
		t.Errorf("diagnostics: %v", r.diags)
	}
	if got := r.addresses(t, "shared"); len(got) != 2 || got[0] != "192.0.2.1" || got[1] != "gw.example.com" {
		t.Errorf("shared: %v, want the published addresses", got)
	}
}
