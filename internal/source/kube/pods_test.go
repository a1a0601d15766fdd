package kube

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	networking "istio.io/api/networking/v1alpha3"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/portcullis/portcullis/internal/translate"
)

// TestSubsetsFromPodLabels runs against the real API server: Pods, a Service, its
// EndpointSlice (endpoints targeting the Pods) and a DestinationRule with subsets v1/v2
// are created through the API; the source's bundle translates into subset clusters with
// the endpoints of the Pods carrying each subset's labels. Relabelling a Pod moves its
// endpoint from one subset to the other.
func TestSubsetsFromPodLabels(t *testing.T) {
	cfg, _ := realCluster(t)
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(cfg)
	ic := istioclient.NewForConfigOrDie(cfg)
	ns := "pc-pods-" + randomSuffix(t)
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// No controllers run: a deleted namespace keeps its objects (Terminating), and the
		// shared API server serves later tests. Delete what this test created.
		bg := context.Background()
		_ = ic.NetworkingV1().VirtualServices(ns).Delete(bg, "web", metav1.DeleteOptions{})
		_ = ic.NetworkingV1().Gateways(ns).Delete(bg, "gw", metav1.DeleteOptions{})
		_ = ic.NetworkingV1().DestinationRules(ns).Delete(bg, "web", metav1.DeleteOptions{})
		_ = kc.DiscoveryV1().EndpointSlices(ns).Delete(bg, "web-1", metav1.DeleteOptions{})
		_ = kc.CoreV1().Services(ns).Delete(bg, "web", metav1.DeleteOptions{})
		for _, p := range []string{"web-a", "web-b", "web-c"} {
			_ = kc.CoreV1().Pods(ns).Delete(bg, p, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
		}
		_ = kc.CoreV1().Namespaces().Delete(bg, ns, metav1.DeleteOptions{})
	})
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// No controllers run: the ServiceAccount admission needs the namespace's default one.
	must(kc.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}}, metav1.CreateOptions{}))
	pods := map[string]string{"web-a": "v1", "web-b": "v1", "web-c": "v2"}
	for name, v := range pods {
		must(kc.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "web", "version": v}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.invalid/web"}}},
		}, metav1.CreateOptions{}))
	}
	must(kc.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{}))
	port, pname := int32(8080), "http"
	var eps []discoveryv1.Endpoint
	for i, name := range []string{"web-a", "web-b", "web-c"} {
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("198.18.254.%d", i+1)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name}})
	}
	must(kc.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps,
		Ports: []discoveryv1.EndpointPort{{Name: &pname, Port: &port}},
	}, metav1.CreateOptions{}))
	must(ic.NetworkingV1().DestinationRules(ns).Create(ctx, &istionet.DestinationRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: networking.DestinationRule{Host: "web", Subsets: []*networking.Subset{
			{Name: "v1", Labels: map[string]string{"version": "v1"}},
			{Name: "v2", Labels: map[string]string{"version": "v2"}},
		}}}, metav1.CreateOptions{}))
	must(ic.NetworkingV1().Gateways(ns).Create(ctx, &istionet.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
		// A selector no real gateway matches, so that no other test's gateway binds it.
		Spec: networking.Gateway{Selector: map[string]string{"portcullis.test/pods": ns}, Servers: []*networking.Server{{
			Port: &networking.Port{Number: 80, Name: "http", Protocol: "HTTP"}, Hosts: []string{"web.example"}}}}},
		metav1.CreateOptions{}))
	must(ic.NetworkingV1().VirtualServices(ns).Create(ctx, &istionet.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: networking.VirtualService{Hosts: []string{"web.example"}, Gateways: []string{"gw"}, Http: []*networking.HTTPRoute{{
			Route: []*networking.HTTPRouteDestination{
				{Destination: &networking.Destination{Host: "web", Subset: "v1"}, Weight: 90},
				{Destination: &networking.Destination{Host: "web", Subset: "v2"}, Weight: 10},
			}}}}}, metav1.CreateOptions{}))

	rec := &recorder{}
	src, err := NewForClients(Options{Namespace: ns, WatchNamespaces: []string{ns}, PodMetadata: metadata.NewForConfigOrDie(cfg)},
		kc, ic, rec.publish, nil)
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, src)

	host := "web." + ns + ".svc.cluster.local"
	split := func() (v1, v2 []string) {
		b := rec.last()
		if b == nil {
			return nil, nil
		}
		snap, _ := translate.Translate(b, translate.Options{Namespace: ns, Labels: map[string]string{"portcullis.test/pods": ns}})
		for _, c := range snap.Clusters {
			switch c.Name {
			case "outbound|80|v1|" + host:
				v1 = c.Endpoints
			case "outbound|80|v2|" + host:
				v2 = c.Endpoints
			}
		}
		return v1, v2
	}
	want := func(v1, v2 []string) func() string {
		return func() string {
			g1, g2 := split()
			if !slices.Equal(g1, v1) || !slices.Equal(g2, v2) {
				return fmt.Sprintf("subset v1 %v, v2 %v; want v1 %v, v2 %v", g1, g2, v1, v2)
			}
			return ""
		}
	}
	eventually(t, 30*time.Second, want([]string{"198.18.254.1:8080", "198.18.254.2:8080"}, []string{"198.18.254.3:8080"}))

	// The canary takes web-b: relabel it v2.
	must(kc.CoreV1().Pods(ns).Patch(ctx, "web-b", types.MergePatchType, []byte(`{"metadata":{"labels":{"version":"v2"}}}`), metav1.PatchOptions{}))
	eventually(t, 30*time.Second, want([]string{"198.18.254.1:8080"}, []string{"198.18.254.2:8080", "198.18.254.3:8080"}))

	// Only metadata is cached: no spec, no status.
	if b := rec.last(); len(b.Pods) != 3 || b.Pods[0].IP != "" {
		t.Fatalf("pods in the bundle: %+v", b.Pods)
	}
}
