package kube

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	securityapi "istio.io/api/security/v1beta1"
	istiosec "istio.io/client-go/pkg/apis/security/v1"
	istiotel "istio.io/client-go/pkg/apis/telemetry/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/portcullis/portcullis/internal/resources"
)

func securityNames(b *resources.Bundle) []string {
	var out []string
	for _, o := range b.AuthorizationPolicies {
		out = append(out, "AuthorizationPolicy "+o.Namespace+"/"+o.Name)
	}
	for _, o := range b.RequestAuthentications {
		out = append(out, "RequestAuthentication "+o.Namespace+"/"+o.Name)
	}
	for _, o := range b.Telemetries {
		out = append(out, "Telemetry "+o.Namespace+"/"+o.Name+" "+o.APIVersion)
	}
	return out
}

// Security policies are watched in the root and gateway namespaces only, whatever
// --watch-namespaces says (no other namespace's policy can apply to the gateway), and
// changes are published.
func TestSourceSecurity(t *testing.T) {
	noLeaks(t)
	k, i := fixture()
	ic := newIstioFake(t, i...)
	ctx := context.Background()
	create := func(ns, name string) {
		t.Helper()
		ap := &istiosec.AuthorizationPolicy{ObjectMeta: om(ns, name), Spec: securityapi.AuthorizationPolicy{Action: securityapi.AuthorizationPolicy_DENY}}
		if _, err := ic.SecurityV1().AuthorizationPolicies(ns).Create(ctx, ap, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create("istio-system", "root")
	create("gw-ns", "local")
	create("ux", "elsewhere")
	ra := &istiosec.RequestAuthentication{ObjectMeta: om("istio-system", "idp")}
	if _, err := ic.SecurityV1().RequestAuthentications("istio-system").Create(ctx, ra, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"istio-system", "ux"} {
		tel := &istiotel.Telemetry{ObjectMeta: om(ns, "mesh-default")}
		if _, err := ic.TelemetryV1().Telemetries(ns).Create(ctx, tel, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s, rec := startSource(t, Options{Namespace: "gw-ns", WatchNamespaces: []string{"ux"}}, kubefake.NewClientset(k...), ic)
	want := []string{"AuthorizationPolicy gw-ns/local", "AuthorizationPolicy istio-system/root", "RequestAuthentication istio-system/idp",
		"Telemetry istio-system/mesh-default telemetry.istio.io/v1"}
	eventually(t, 5*time.Second, func() string {
		got := securityNames(rec.last())
		slices.Sort(got)
		return cmp.Diff(want, got)
	})
	if ref, ok := s.ObjectReference("AuthorizationPolicy", "gw-ns", "local"); !ok || ref.APIVersion != "security.istio.io/v1" || ref.UID != "uid-gw-ns-local" {
		t.Errorf("ObjectReference = %+v, %v", ref, ok)
	}
	if ref, ok := s.ObjectReference("Telemetry", "istio-system", "mesh-default"); !ok || ref.APIVersion != "telemetry.istio.io/v1" {
		t.Errorf("Telemetry ObjectReference = %+v, %v", ref, ok)
	}
	if err := ic.SecurityV1().AuthorizationPolicies("gw-ns").Delete(ctx, "local", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		return cmp.Diff([]string{"AuthorizationPolicy istio-system/root", "RequestAuthentication istio-system/idp",
			"Telemetry istio-system/mesh-default telemetry.istio.io/v1"}, securityNames(rec.last()))
	})
}
