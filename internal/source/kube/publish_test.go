package kube

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
)

// TestPublishServiceRealAPIServer: --gateway-publish-service on the real API server. The
// Service lives in a namespace that is not watched; its status, set through the API as a
// cloud controller would, becomes the bundle's PublishAddresses (IP, else hostname, in
// order) and follows changes, while the Service never joins the bundle's Services and
// another Service of that namespace is not read.
func TestPublishServiceRealAPIServer(t *testing.T) {
	cfg, _ := realCluster(t)
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(cfg)
	suffix := randomSuffix(t)
	gwNS, appNS := "pc-pub-gw-"+suffix, "pc-pub-app-"+suffix
	for _, ns := range []string{gwNS, appNS} {
		if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = kc.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	}
	lb := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: gwNS, Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}}
	}
	for _, n := range []string{"portcullis", "other"} {
		if _, err := kc.CoreV1().Services(gwNS).Create(ctx, lb(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setIngress := func(name string, ing ...corev1.LoadBalancerIngress) {
		t.Helper()
		svc, err := kc.CoreV1().Services(gwNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Status.LoadBalancer.Ingress = ing
		if _, err := kc.CoreV1().Services(gwNS).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setIngress("other", corev1.LoadBalancerIngress{IP: "198.51.100.9"})

	rec := &recorder{}
	src, err := NewForClients(Options{Namespace: gwNS, WatchNamespaces: []string{appNS}, DisableGatewayAPI: true,
		PublishService: gwNS + "/portcullis"}, kc, istioclient.NewForConfigOrDie(cfg), rec.publish, nil)
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, src)
	want := func(addrs ...string) {
		t.Helper()
		eventually(t, 30*time.Second, func() string {
			b := rec.last()
			if b == nil || !src.Synced() {
				return "not synced"
			}
			if len(b.Services) != 0 {
				return fmt.Sprintf("the publish Service joined the bundle's Services: %d", len(b.Services))
			}
			if !slices.Equal(b.GatewayAPI.PublishAddresses, addrs) {
				return fmt.Sprintf("publish addresses %q, want %q", b.GatewayAPI.PublishAddresses, addrs)
			}
			return ""
		})
	}
	want() // no load balancer yet: nothing to publish
	setIngress("portcullis", corev1.LoadBalancerIngress{IP: "203.0.113.7"}, corev1.LoadBalancerIngress{Hostname: "lb.example.com"})
	want("203.0.113.7", "lb.example.com")
	setIngress("portcullis", corev1.LoadBalancerIngress{Hostname: "lb2.example.com"})
	want("lb2.example.com")
	if err := kc.CoreV1().Services(gwNS).Delete(ctx, "portcullis", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want()
}

func TestParsePublishService(t *testing.T) {
	for in, ok := range map[string]bool{"ns/name": true, "name": false, "/name": false, "ns/": false, "a/b/c": false} {
		if _, _, err := ParsePublishService(in); (err == nil) != ok {
			t.Errorf("ParsePublishService(%q): %v", in, err)
		}
	}
}
