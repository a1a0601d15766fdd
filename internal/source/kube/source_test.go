package kube

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	networking "istio.io/api/networking/v1alpha3"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/portcullis/portcullis/internal/resources"
)

// recorder collects published bundles.
type recorder struct {
	mu      sync.Mutex
	bundles []*resources.Bundle
}

func (r *recorder) publish(b *resources.Bundle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bundles = append(r.bundles, b)
}

func (r *recorder) last() *resources.Bundle {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bundles) == 0 {
		return nil
	}
	return r.bundles[len(r.bundles)-1]
}

// eventually polls f until it returns "" or the deadline passes.
func eventually(t *testing.T, d time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var why string
	for time.Now().Before(deadline) {
		if why = f(); why == "" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not true after %v: %s", d, why)
}

func om(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name)}
}

func fixture() (kube []runtime.Object, istio []runtime.Object) {
	kube = []runtime.Object{
		&corev1.Secret{ObjectMeta: om("istio-system", "frontend-credential"), Data: map[string][]byte{"cert": []byte("c")}},
		&corev1.Secret{ObjectMeta: om("ux", "stolen-credential"), Data: map[string][]byte{"cert": []byte("x")}},
		&corev1.Service{ObjectMeta: om("ux", "frontend")},
		&corev1.Service{ObjectMeta: om("corp-services", "inventory")},
		&discoveryv1.EndpointSlice{ObjectMeta: om("ux", "frontend-abc"), AddressType: discoveryv1.AddressTypeIPv4},
	}
	istio = []runtime.Object{
		&istionet.Gateway{ObjectMeta: om("default", "foocorp-gateway"), Spec: networking.Gateway{Selector: map[string]string{"istio": "ingressgateway"}}},
		&istionet.VirtualService{ObjectMeta: om("default", "frontend"), Spec: networking.VirtualService{Hosts: []string{"frontend.foocorp.com"}}},
		&istionet.VirtualService{ObjectMeta: om("ux", "ux-local"), Spec: networking.VirtualService{Hosts: []string{"x"}}},
	}
	return kube, istio
}

// names summarises a bundle as kind -> ns/name list.
func names(b *resources.Bundle) map[string][]string {
	out := map[string][]string{}
	add := func(kind, ns, name string) { out[kind] = append(out[kind], ns+"/"+name) }
	for _, o := range b.Gateways {
		add("Gateway", o.Namespace, o.Name)
	}
	for _, o := range b.VirtualServices {
		add("VirtualService", o.Namespace, o.Name)
	}
	for _, o := range b.DestinationRules {
		add("DestinationRule", o.Namespace, o.Name)
	}
	for _, o := range b.ServiceEntries {
		add("ServiceEntry", o.Namespace, o.Name)
	}
	for _, o := range b.Secrets {
		add("Secret", o.Namespace, o.Name)
	}
	for _, o := range b.Services {
		add("Service", o.Namespace, o.Name)
	}
	for _, o := range b.EndpointSlices {
		add("EndpointSlice", o.Namespace, o.Name)
	}
	return out
}

// startSource runs a Source on fake clients until the test ends.
func startSource(t *testing.T, opts Options, kc *kubefake.Clientset, ic *istiofake.Clientset) (*Source, *recorder) {
	t.Helper()
	rec := &recorder{}
	s, err := NewForClients(opts, kc, ic, rec.publish, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	eventually(t, 10*time.Second, func() string {
		if !s.Synced() || rec.last() == nil {
			return "not synced / nothing published"
		}
		return ""
	})
	return s, rec
}

func TestSourceBundle(t *testing.T) {
	noLeaks(t)
	tests := []struct {
		name  string
		watch []string
		want  map[string][]string
	}{
		{
			name: "all namespaces",
			want: map[string][]string{
				"Gateway":        {"default/foocorp-gateway"},
				"VirtualService": {"default/frontend", "ux/ux-local"},
				"Secret":         {"istio-system/frontend-credential"}, // never ux/stolen-credential
				"Service":        {"corp-services/inventory", "ux/frontend"},
				"EndpointSlice":  {"ux/frontend-abc"},
			},
		},
		{
			name:  "watch namespaces restrict everything but Secrets",
			watch: []string{"ux", "ux"},
			want: map[string][]string{
				"VirtualService": {"ux/ux-local"},
				"Secret":         {"istio-system/frontend-credential"},
				"Service":        {"ux/frontend"},
				"EndpointSlice":  {"ux/frontend-abc"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, i := fixture()
			_, rec := startSource(t, Options{Namespace: "istio-system", WatchNamespaces: tc.watch},
				kubefake.NewClientset(k...), newIstioFake(t, i...))
			if diff := cmp.Diff(tc.want, names(rec.last())); diff != "" {
				t.Errorf("bundle (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSourceMeta(t *testing.T) {
	noLeaks(t)
	k, i := fixture()
	_, rec := startSource(t, Options{Namespace: "istio-system"}, kubefake.NewClientset(k...), newIstioFake(t, i...))
	gw := rec.last().Gateways[0]
	want := resources.Meta{Namespace: "default", Name: "foocorp-gateway", APIVersion: "networking.istio.io/v1",
		CreationTimestamp: gw.CreationTimestamp}
	if diff := cmp.Diff(want, gw.Meta); diff != "" {
		t.Errorf("meta (-want +got):\n%s", diff)
	}
	if got := gw.Spec.GetSelector()["istio"]; got != "ingressgateway" {
		t.Errorf("spec selector = %q", got)
	}
	if got := string(rec.last().Secrets[0].Data["cert"]); got != "c" {
		t.Errorf("secret data = %q", got)
	}
}

func TestSourcePublishesChanges(t *testing.T) {
	noLeaks(t)
	k, i := fixture()
	kc, ic := kubefake.NewClientset(k...), newIstioFake(t, i...)
	_, rec := startSource(t, Options{Namespace: "istio-system"}, kc, ic)
	ctx := context.Background()

	vs := &istionet.VirtualService{ObjectMeta: om("corp-services", "inventory"), Spec: networking.VirtualService{Hosts: []string{"inventory.foocorp.com"}}}
	if _, err := ic.NetworkingV1().VirtualServices("corp-services").Create(ctx, vs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kc.CoreV1().Secrets("istio-system").Delete(ctx, "frontend-credential", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A Secret in another namespace never enters the bundle, even when it changes.
	other := &corev1.Secret{ObjectMeta: om("corp-services", "inventory-credential")}
	if _, err := kc.CoreV1().Secrets("corp-services").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		got := names(rec.last())
		want := []string{"corp-services/inventory", "default/frontend", "ux/ux-local"}
		if diff := cmp.Diff(want, got["VirtualService"]); diff != "" {
			return "virtual services: " + diff
		}
		if len(got["Secret"]) != 0 {
			return "secrets still there: " + cmp.Diff([]string(nil), got["Secret"])
		}
		return ""
	})
}

func TestObjectReference(t *testing.T) {
	noLeaks(t)
	k, i := fixture()
	s, _ := startSource(t, Options{Namespace: "istio-system"}, kubefake.NewClientset(k...), newIstioFake(t, i...))
	tests := []struct {
		kind, ns, name string
		want           *corev1.ObjectReference
	}{
		{"Gateway", "default", "foocorp-gateway", &corev1.ObjectReference{Kind: "Gateway", APIVersion: "networking.istio.io/v1",
			Namespace: "default", Name: "foocorp-gateway", UID: "uid-default-foocorp-gateway"}},
		{"Secret", "istio-system", "frontend-credential", &corev1.ObjectReference{Kind: "Secret", APIVersion: "v1",
			Namespace: "istio-system", Name: "frontend-credential", UID: "uid-istio-system-frontend-credential"}},
		{"Secret", "ux", "stolen-credential", nil},
		{"Gateway", "default", "missing", nil},
		{"Pod", "ux", "frontend", nil},
	}
	for _, tc := range tests {
		got, ok := s.ObjectReference(tc.kind, tc.ns, tc.name)
		if ok != (tc.want != nil) {
			t.Errorf("%s %s/%s: found = %v", tc.kind, tc.ns, tc.name, ok)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s %s/%s (-want +got):\n%s", tc.kind, tc.ns, tc.name, diff)
		}
	}
}

func TestNewRequiresNamespace(t *testing.T) {
	if _, err := NewForClients(Options{}, kubefake.NewClientset(), istiofake.NewSimpleClientset(), func(*resources.Bundle) {}, nil); err == nil {
		t.Fatal("want an error without a namespace")
	}
}

// newIstioFake returns a fake Istio clientset holding objs. (NewSimpleClientset(objs...)
// loses Gateways: its tracker guesses the resource from a scheme where the kind is
// ambiguous; creating through the tracker with an explicit resource does not.)
func newIstioFake(t *testing.T, objs ...runtime.Object) *istiofake.Clientset {
	t.Helper()
	ic := istiofake.NewSimpleClientset()
	for _, o := range objs {
		var res string
		switch o.(type) {
		case *istionet.Gateway:
			res = "gateways"
		case *istionet.VirtualService:
			res = "virtualservices"
		case *istionet.DestinationRule:
			res = "destinationrules"
		case *istionet.ServiceEntry:
			res = "serviceentries"
		default:
			t.Fatalf("newIstioFake: unsupported %T", o)
		}
		gvr := istionet.SchemeGroupVersion.WithResource(res)
		if err := ic.Tracker().Create(gvr, o, o.(metav1.Object).GetNamespace()); err != nil {
			t.Fatal(err)
		}
	}
	return ic
}

// noLeaks checks for leaked goroutines after every cleanup of the test has run
// (cleanups run last-registered first, so this one runs last).
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}
