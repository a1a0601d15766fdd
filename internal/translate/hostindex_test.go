package translate

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
)

// TestHostIndexCandidates checks that the index never skips a server host that
// intersects, and keeps entry order (which fixes route and diagnostic order).
func TestHostIndexCandidates(t *testing.T) {
	hosts := []string{"a.foo.com", "*.foo.com", "b.foo.com", "*", "a.foo.com", "*.bar.foo.com", "x.bar.foo.com"}
	var servers []*serverInfo
	for i := 0; i < len(hosts); i += 2 {
		si := &serverInfo{name: fmt.Sprint(i)}
		for _, h := range hosts[i:min(i+2, len(hosts))] {
			si.hosts = append(si.hosts, serverHost{ns: "*", host: h})
		}
		servers = append(servers, si)
	}
	x := newHostIndex(servers)
	for _, vh := range []string{"a.foo.com", "b.foo.com", "x.bar.foo.com", "y.bar.foo.com", "c.com", "*.foo.com", "*.bar.foo.com", "*", "*.com"} {
		t.Run(vh, func(t *testing.T) {
			var want, got []int32
			for i, e := range x.entries {
				if _, ok := intersect(e.sh.host, vh); ok {
					want = append(want, int32(i))
				}
			}
			for _, pos := range x.candidates(vh) {
				if _, ok := intersect(x.entries[pos].sh.host, vh); ok {
					got = append(got, pos)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

// BenchmarkTranslateManyHosts is start-up at scale: one Gateway with n HTTPS servers, one
// VirtualService per server host.
func BenchmarkTranslateManyHosts(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		bundle := &resources.Bundle{}
		gw := httpsGateway("gw", 1, "gw.yaml", "h0.foo.com")
		gw.Spec.Servers = nil
		for i := range n {
			host := fmt.Sprintf("h%d.foo.com", i)
			gw.Spec.Servers = append(gw.Spec.Servers, &networking.Server{
				Port:  &networking.Port{Number: 443, Name: fmt.Sprintf("https-%d", i), Protocol: "HTTPS"},
				Hosts: []string{host},
				Tls:   &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_MUTUAL, CredentialName: fmt.Sprintf("cred-%d", i)},
			})
			bundle.VirtualServices = append(bundle.VirtualServices, resources.VirtualService{
				Meta: resources.Meta{Namespace: "default", Name: fmt.Sprintf("vs%d", i)},
				Spec: &networking.VirtualService{Hosts: []string{host}, Gateways: []string{"gw"},
					Http: []*networking.HTTPRoute{{Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "svc.default.svc.cluster.local"}}}}}},
			})
		}
		bundle.Gateways = []resources.Gateway{gw}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				snap, _ := Translate(bundle, Options{Labels: map[string]string{"istio": "ingressgateway"}})
				if len(snap.Listeners) != 1 || len(snap.Listeners[0].Servers) != n {
					b.Fatalf("listeners %d", len(snap.Listeners))
				}
			}
		})
	}
}
