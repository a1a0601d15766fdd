package decode

import (
	"os"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// summary is what a test checks about a decoded bundle: object identities and diagnostics.
type summary struct {
	Objects     []string
	Diagnostics []diag.Diagnostic
}

func summarize(b *resources.Bundle) summary {
	var s summary
	add := func(kind string, m resources.Meta) {
		s.Objects = append(s.Objects, kind+" "+m.APIVersion+" "+m.Namespace+"/"+m.Name+" "+m.Source.File+"#"+itoa(m.Source.Index))
	}
	for _, o := range b.Gateways {
		add("Gateway", o.Meta)
	}
	for _, o := range b.VirtualServices {
		add("VirtualService", o.Meta)
	}
	for _, o := range b.DestinationRules {
		add("DestinationRule", o.Meta)
	}
	for _, o := range b.ServiceEntries {
		add("ServiceEntry", o.Meta)
	}
	for _, o := range b.Secrets {
		add("Secret", resources.Meta{APIVersion: o.APIVersion, Namespace: o.Namespace, Name: o.Name, Source: o.Source})
	}
	for _, o := range b.Services {
		add("Service", resources.Meta{APIVersion: o.APIVersion, Namespace: o.Namespace, Name: o.Name, Source: o.Source})
	}
	for _, o := range b.EndpointSlices {
		add("EndpointSlice", resources.Meta{APIVersion: o.APIVersion, Namespace: o.Namespace, Name: o.Name, Source: o.Source})
	}
	for _, o := range b.Telemetries {
		add("Telemetry", o.Meta)
	}
	s.Diagnostics = b.Diagnostics
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestWalkthrough(t *testing.T) {
	gw, err := os.ReadFile("testdata/walkthrough-gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := os.ReadFile("testdata/walkthrough-virtualservices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := Decode(gw, "gw.yaml")
	b.Append(Decode(vs, "vs.yaml"))
	if len(b.Diagnostics) != 0 {
		t.Fatalf("diagnostics: %v", b.Diagnostics)
	}
	wantGW := &networking.Gateway{
		Selector: map[string]string{"istio": "ingressgateway"},
		Servers: []*networking.Server{
			{
				Port:  &networking.Port{Number: 443, Name: "https-frontend", Protocol: "HTTPS"},
				Tls:   &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_MUTUAL, CredentialName: "frontend-credential"},
				Hosts: []string{"frontend.foocorp.com"},
			},
			{
				Port:  &networking.Port{Number: 443, Name: "https-inventory", Protocol: "HTTPS"},
				Tls:   &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_MUTUAL, CredentialName: "inventory-credential"},
				Hosts: []string{"inventory.foocorp.com"},
			},
		},
	}
	if diff := cmp.Diff(wantGW, b.Gateways[0].Spec, protocmp.Transform()); diff != "" {
		t.Errorf("gateway spec (-want +got):\n%s", diff)
	}
	wantVS := func(host, dest string) *networking.VirtualService {
		return &networking.VirtualService{
			Hosts:    []string{host},
			Gateways: []string{"foocorp-gateway"},
			Http: []*networking.HTTPRoute{{
				Match: []*networking.HTTPMatchRequest{{Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: "/"}}}},
				Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: dest, Port: &networking.PortSelector{Number: 80}}}},
			}},
		}
	}
	if diff := cmp.Diff(wantVS("frontend.foocorp.com", "frontend.ux.svc.cluster.local"), b.VirtualServices[0].Spec, protocmp.Transform()); diff != "" {
		t.Errorf("frontend spec (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantVS("inventory.foocorp.com", "inventory.corp-services.svc.cluster.local"), b.VirtualServices[1].Spec, protocmp.Transform()); diff != "" {
		t.Errorf("inventory spec (-want +got):\n%s", diff)
	}
	want := []string{
		"Gateway networking.istio.io/v1alpha3 default/foocorp-gateway gw.yaml#0",
		"VirtualService networking.istio.io/v1alpha3 default/frontend vs.yaml#0",
		"VirtualService networking.istio.io/v1alpha3 default/inventory vs.yaml#1",
	}
	if diff := cmp.Diff(want, summarize(b).Objects); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}
