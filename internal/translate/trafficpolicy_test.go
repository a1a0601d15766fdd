package translate

import (
	"testing"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
)

func TestMergeTrafficPolicy(t *testing.T) {
	rr := &networking.LoadBalancerSettings{LbPolicy: &networking.LoadBalancerSettings_Simple{Simple: networking.LoadBalancerSettings_ROUND_ROBIN}}
	lr := &networking.LoadBalancerSettings{LbPolicy: &networking.LoadBalancerSettings_Simple{Simple: networking.LoadBalancerSettings_LEAST_REQUEST}}
	simple := &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_SIMPLE}
	od := &networking.OutlierDetection{Consecutive_5XxErrors: nil}
	top := &networking.TrafficPolicy{
		LoadBalancer:     rr,
		Tls:              simple,
		OutlierDetection: od,
		PortLevelSettings: []*networking.TrafficPolicy_PortTrafficPolicy{
			{Port: &networking.PortSelector{Number: 8443}, LoadBalancer: lr},
		},
	}
	// Port without port-level settings: the top-level policy.
	got := mergeTrafficPolicy(nil, top, 80)
	if !proto.Equal(got.LoadBalancer, rr) || !proto.Equal(got.Tls, simple) || got.PortLevelSettings != nil {
		t.Fatalf("port 80: %v", got)
	}
	// Port-level settings replace wholesale: tls and outlierDetection become unset.
	got = mergeTrafficPolicy(nil, top, 8443)
	if !proto.Equal(got.LoadBalancer, lr) || got.Tls != nil || got.OutlierDetection != nil {
		t.Fatalf("port 8443: %v", got)
	}
	// A subset's field overrides; the rest is inherited.
	sub := &networking.TrafficPolicy{LoadBalancer: lr}
	got = mergeTrafficPolicy(mergeTrafficPolicy(nil, top, 80), sub, 80)
	if !proto.Equal(got.LoadBalancer, lr) || !proto.Equal(got.Tls, simple) {
		t.Fatalf("subset: %v", got)
	}
	if mergeTrafficPolicy(top, nil, 80) != top {
		t.Fatal("nil override must return base")
	}
}
