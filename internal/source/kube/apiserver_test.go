package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testkit"

	"github.com/google/go-cmp/cmp"
	networking "istio.io/api/networking/v1alpha3"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	istiov1a3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	istiov1b1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// realCluster returns a client config for the test control plane (hack/kube/up.sh), or
// skips the test when it is not running.
func realCluster(t *testing.T) (*rest.Config, string) {
	t.Helper()
	return testkit.RealCluster(t)
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestRealAPIServer runs the source against the real kube-apiserver through a TCP proxy
// the test can cut: first sync, objects created in every served Istio version, Secrets
// only from the gateway namespace, live changes, API server loss and return without a
// restart, and events that `kubectl describe` shows.
func TestRealAPIServer(t *testing.T) {
	cfg, kubectl := realCluster(t)
	ctx := context.Background()
	direct := kubernetes.NewForConfigOrDie(cfg)
	directIstio := istioclient.NewForConfigOrDie(cfg)
	suffix := randomSuffix(t)
	gwNS, appNS := "pc-src-gw-"+suffix, "pc-src-app-"+suffix
	for _, ns := range []string{gwNS, appNS} {
		if _, err := direct.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // stays Terminating (no controllers); the names are never reused
			_ = direct.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		})
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	meta := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	must(direct.CoreV1().Secrets(gwNS).Create(ctx, &corev1.Secret{ObjectMeta: meta(gwNS, "cred"),
		StringData: map[string]string{"cert": "c"}}, metav1.CreateOptions{}))
	must(direct.CoreV1().Secrets(appNS).Create(ctx, &corev1.Secret{ObjectMeta: meta(appNS, "cred"),
		Data: map[string][]byte{"cert": []byte("other namespace")}}, metav1.CreateOptions{}))
	must(directIstio.NetworkingV1alpha3().Gateways(appNS).Create(ctx, &istiov1a3.Gateway{ObjectMeta: meta(appNS, "gw"),
		Spec: networking.Gateway{Selector: map[string]string{"istio": "ingressgateway"}}}, metav1.CreateOptions{}))
	must(directIstio.NetworkingV1beta1().VirtualServices(appNS).Create(ctx, &istiov1b1.VirtualService{ObjectMeta: meta(appNS, "vs-beta"),
		Spec: networking.VirtualService{Hosts: []string{"a.example"}, Gateways: []string{"gw"}}}, metav1.CreateOptions{}))
	must(directIstio.NetworkingV1().DestinationRules(appNS).Create(ctx, &istionet.DestinationRule{ObjectMeta: meta(appNS, "dr"),
		Spec: networking.DestinationRule{Host: "svc"}}, metav1.CreateOptions{}))
	must(direct.CoreV1().Services(appNS).Create(ctx, &corev1.Service{ObjectMeta: meta(appNS, "svc"),
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{}))
	port, name := int32(8080), "http"
	must(direct.DiscoveryV1().EndpointSlices(appNS).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: appNS, Name: "svc-1", Labels: map[string]string{discoveryv1.LabelServiceName: "svc"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"198.18.255.2"}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
	}, metav1.CreateOptions{}))

	proxy := testkit.StartProxy(t, strings.TrimPrefix(cfg.Host, "https://"))
	pcfg := rest.CopyConfig(cfg)
	pcfg.Host = "https://" + proxy.Addr()
	var ups upLog
	rec := &recorder{}
	src, err := NewForClients(Options{Namespace: gwNS, WatchNamespaces: []string{gwNS, appNS},
		Up: ups.add, HealthInterval: 200 * time.Millisecond},
		kubernetes.NewForConfigOrDie(pcfg), istioclient.NewForConfigOrDie(pcfg), rec.publish, nil)
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, src)

	eventually(t, 30*time.Second, func() string {
		if !src.Synced() || rec.last() == nil {
			return "not synced"
		}
		return ""
	})
	want := map[string][]string{
		"Gateway":         {appNS + "/gw"},
		"VirtualService":  {appNS + "/vs-beta"},
		"DestinationRule": {appNS + "/dr"},
		"Secret":          {gwNS + "/cred"},
		"Service":         {appNS + "/svc"},
		"EndpointSlice":   {appNS + "/svc-1"},
	}
	b := rec.last()
	if diff := cmp.Diff(want, names(b)); diff != "" {
		t.Fatalf("first bundle (-want +got):\n%s", diff)
	}
	if got := b.Gateways[0].APIVersion; got != "networking.istio.io/v1" {
		t.Errorf("gateway created as v1alpha3 read as %q", got)
	}
	if got := string(b.Secrets[0].Data["cert"]); got != "c" {
		t.Errorf("stringData not in data: %q", got)
	}
	if got := ups.all(); !slices.Equal(got, []bool{true}) {
		t.Errorf("up reports after sync = %v, want [true]", got)
	}

	t.Run("live change", func(t *testing.T) {
		must(directIstio.NetworkingV1().VirtualServices(appNS).Create(ctx, &istionet.VirtualService{ObjectMeta: meta(appNS, "vs-v1"),
			Spec: networking.VirtualService{Hosts: []string{"b.example"}}}, metav1.CreateOptions{}))
		waitVS(t, rec, appNS+"/vs-beta", appNS+"/vs-v1")
	})

	t.Run("API server lost and back", func(t *testing.T) {
		proxy.Stop()
		eventually(t, 20*time.Second, func() string {
			if got := ups.all(); got[len(got)-1] {
				return "still reported up"
			}
			return ""
		})
		if got := names(rec.last())["VirtualService"]; len(got) != 2 {
			t.Errorf("bundle changed while the API server was away: %v", got)
		}
		must(directIstio.NetworkingV1().VirtualServices(appNS).Create(ctx, &istionet.VirtualService{ObjectMeta: meta(appNS, "vs-while-down"),
			Spec: networking.VirtualService{Hosts: []string{"c.example"}}}, metav1.CreateOptions{}))
		proxy.Start(t)
		eventually(t, 60*time.Second, func() string {
			if got := ups.all(); !got[len(got)-1] {
				return "not reported up again"
			}
			return ""
		})
		waitVS(t, rec, appNS+"/vs-beta", appNS+"/vs-v1", appNS+"/vs-while-down")
	})

	t.Run("events shown by kubectl describe", func(t *testing.T) {
		p := NewEventPublisher(direct, src, nil)
		evCtx, evCancel := context.WithCancel(ctx)
		evDone := make(chan error, 1)
		go func() { evDone <- p.Run(evCtx) }()
		defer func() { evCancel(); <-evDone }()
		d := diag.Diagnostic{Severity: diag.Error, Kind: "Gateway", Namespace: appNS, Name: "gw",
			Field: "spec.servers[0]", Message: "test conflict " + suffix}
		p.PublishDiagnostics([]diag.Diagnostic{d})
		eventually(t, 20*time.Second, func() string {
			out, err := exec.Command(kubectl, "describe", "gateways.networking.istio.io", "-n", appNS, "gw").CombinedOutput()
			if err != nil {
				return err.Error() + ": " + string(out)
			}
			if !strings.Contains(string(out), "ConfigError") || !strings.Contains(string(out), d.Message) {
				return "event not in kubectl describe:\n" + string(out)
			}
			return ""
		})
	})
}

// waitVS waits until the latest bundle holds exactly the given VirtualServices.
func waitVS(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	eventually(t, 60*time.Second, func() string {
		var b *resources.Bundle
		if b = rec.last(); b == nil {
			return "no bundle"
		}
		if diff := cmp.Diff(want, names(b)["VirtualService"]); diff != "" {
			return "virtual services (-want +got): " + diff
		}
		return ""
	})
}

// upLog records the Up reports.
type upLog struct {
	mu  sync.Mutex
	ups []bool
}

func (u *upLog) add(up bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.ups = append(u.ups, up)
}

func (u *upLog) all() []bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.ups) == 0 {
		return []bool{false} // nothing reported yet
	}
	return append([]bool(nil), u.ups...)
}

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
	createNamespaces(t, kc, gwNS, appNS)
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

// createNamespaces creates fresh namespaces, deleted at the end of the test (they stay
// Terminating on an API server without controllers; the names are never reused).
func createNamespaces(t *testing.T, kc kubernetes.Interface, names ...string) {
	t.Helper()
	for _, ns := range names {
		if _, err := kc.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = kc.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	}
}
