package translate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

func httpsGateway(name string, created int64, file string, host string) resources.Gateway {
	return resources.Gateway{
		Meta: resources.Meta{Namespace: "default", Name: name, CreationTimestamp: created, Source: resources.Source{File: file}},
		Spec: &networking.Gateway{
			Selector: map[string]string{"istio": "ingressgateway"},
			Servers: []*networking.Server{{
				Port:  &networking.Port{Number: 443, Name: "https", Protocol: "HTTPS"},
				Hosts: []string{host},
				Tls:   &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_SIMPLE, CredentialName: name},
			}},
		},
	}
}

// TestConflictOrder: the older Gateway keeps a contested host, whatever the file order.
func TestConflictOrder(t *testing.T) {
	tests := []struct {
		name       string
		gws        []resources.Gateway
		wantServer string
		rejected   string
	}{
		{
			name: "creation timestamp beats file order",
			gws: []resources.Gateway{
				httpsGateway("young", 200, "a.yaml", "x.example.com"),
				httpsGateway("old", 100, "b.yaml", "x.example.com"),
			},
			wantServer: "default/old/https", rejected: "young",
		},
		{
			name: "file order when timestamps tie",
			gws: []resources.Gateway{
				httpsGateway("z", 0, "b.yaml", "x.example.com"),
				httpsGateway("a", 0, "a.yaml", "x.example.com"),
			},
			wantServer: "default/a/https", rejected: "z",
		},
		{
			name: "name when everything else ties",
			gws: []resources.Gateway{
				httpsGateway("b", 0, "", "x.example.com"),
				httpsGateway("a", 0, "", "x.example.com"),
			},
			wantServer: "default/a/https", rejected: "b",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, diags := Translate(&resources.Bundle{Gateways: tc.gws}, Options{})
			if len(snap.Listeners) != 1 || len(snap.Listeners[0].Servers) != 1 {
				t.Fatalf("want one listener with one server, got %+v", snap.Listeners)
			}
			if got := snap.Listeners[0].Servers[0].Name; got != tc.wantServer {
				t.Errorf("server = %q, want %q", got, tc.wantServer)
			}
			var found bool
			for _, d := range diags {
				if d.Severity == diag.Error && d.Name == tc.rejected && strings.Contains(d.Message, "already claimed by server "+tc.wantServer) {
					found = true
				}
			}
			if !found {
				t.Errorf("no conflict error naming both servers: %v", diags)
			}
		})
	}
}

// TestNilSafety: half-empty objects (as a buggy source might publish) never panic.
func TestNilSafety(t *testing.T) {
	m := resources.Meta{Namespace: "default", Name: "x"}
	b := &resources.Bundle{
		Gateways: []resources.Gateway{
			{Meta: m},
			{Meta: resources.Meta{Namespace: "default", Name: "y"}, Spec: &networking.Gateway{Servers: []*networking.Server{
				nil,
				{},
				{Port: &networking.Port{Number: 80, Protocol: "HTTP"}, Hosts: []string{"*"}, Tls: &networking.ServerTLSSettings{}},
				{Port: &networking.Port{Number: 443, Protocol: "HTTPS"}, Hosts: []string{"a.com"}, Tls: &networking.ServerTLSSettings{}},
			}}},
		},
		VirtualServices: []resources.VirtualService{
			{Meta: m},
			{Meta: resources.Meta{Namespace: "default", Name: "v"}, Spec: &networking.VirtualService{
				Hosts:    []string{"*"},
				Gateways: []string{"y"},
				Http: []*networking.HTTPRoute{
					nil,
					{},
					{Match: []*networking.HTTPMatchRequest{nil, {Uri: &networking.StringMatch{}}}},
					{Route: []*networking.HTTPRouteDestination{nil, {}, {Destination: &networking.Destination{}}}},
					{Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "svc", Subset: "s"}}}},
					{Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "se.example.com"}}}},
					{Redirect: &networking.HTTPRedirect{}},
					{DirectResponse: &networking.HTTPDirectResponse{Status: 200, Body: &networking.HTTPBody{}}},
					{Headers: &networking.Headers{Request: &networking.Headers_HeaderOperations{}}, Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "svc"}}}},
				},
			}},
		},
		DestinationRules: []resources.DestinationRule{{Meta: m}, {Meta: m, Spec: &networking.DestinationRule{Host: "svc", Subsets: []*networking.Subset{nil, {Name: "s"}}}}},
		ServiceEntries: []resources.ServiceEntry{{Meta: m}, {Meta: m, Spec: &networking.ServiceEntry{
			Hosts: []string{"se.example.com"}, Ports: []*networking.ServicePort{nil, {Number: 80}},
			Resolution: networking.ServiceEntry_STATIC, Endpoints: []*networking.WorkloadEntry{nil, {}},
		}}},
		Services: []resources.Service{{}, {Service: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "svc"}}}},
		EndpointSlices: []resources.EndpointSlice{{}, {EndpointSlice: &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "svc-1", Labels: map[string]string{serviceNameLabel: "svc"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{}},
			Endpoints:   []discoveryv1.Endpoint{{}},
		}}},
	}
	snap, diags := Translate(b, Options{})
	if snap == nil || snap.Version == "" {
		t.Fatalf("no snapshot")
	}
	if !diag.HasErrors(diags) {
		t.Errorf("expected errors for the broken objects, got %v", diags)
	}
	if s, _ := Translate(nil, Options{}); s == nil || len(s.Listeners) != 0 {
		t.Errorf("nil bundle: got %+v", s)
	}
}

// TestVersion: a content hash, equal for equal content and different otherwise.
func TestVersion(t *testing.T) {
	b1 := &resources.Bundle{Gateways: []resources.Gateway{httpsGateway("a", 0, "", "x.example.com")}}
	b2 := &resources.Bundle{Gateways: []resources.Gateway{httpsGateway("a", 0, "", "y.example.com")}}
	s1, _ := Translate(b1, Options{})
	s1again, _ := Translate(b1, Options{})
	s2, _ := Translate(b2, Options{})
	if len(s1.Version) != 16 {
		t.Errorf("version %q is not 16 hex digits", s1.Version)
	}
	if s1.Version != s1again.Version {
		t.Errorf("same input, different versions %q %q", s1.Version, s1again.Version)
	}
	if s1.Version == s2.Version {
		t.Errorf("different content, same version %q", s1.Version)
	}
}

func TestOptionsDefaults(t *testing.T) {
	got := Options{}.withDefaults()
	want := Options{Namespace: "istio-system", Labels: map[string]string{"istio": "ingressgateway"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
