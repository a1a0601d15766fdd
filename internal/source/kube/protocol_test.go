package kube

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	networking "istio.io/api/networking/v1alpha3"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/portcullis/portcullis/internal/decode"
	"github.com/portcullis/portcullis/internal/resources"
)

// TestRealAPIServerUpstreamProtocol: what decides the upstream protocol (design 0020) —
// a Service port's appProtocol and name, a ServiceEntry port's protocol, a
// DestinationRule's connectionPool.http h2UpgradePolicy and useClientProtocol — reaches
// the source from the API server as the file decoder reads the same document.
func TestRealAPIServerUpstreamProtocol(t *testing.T) {
	doc, rec := sourceOf(t, "pc-proto-", func(ns string) string {
		return `apiVersion: v1
kind: Service
metadata: {name: api, namespace: ` + ns + `}
spec:
  ports:
  - {name: grpc-api, port: 7000}
  - {name: plain, port: 7001, appProtocol: kubernetes.io/h2c}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: ` + ns + `}
spec:
  hosts: [se.example]
  resolution: STATIC
  ports: [{number: 9000, name: a, protocol: GRPC}]
  endpoints: [{address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr, namespace: ` + ns + `}
spec:
  host: se.example
  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}}
`
	})
	eventually(t, 30*time.Second, func() string {
		if b := rec.last(); b == nil || len(b.Services) != 1 || len(b.ServiceEntries) != 1 || len(b.DestinationRules) != 1 {
			return "not synced"
		}
		return ""
	})
	fb := decode.Decode([]byte(doc), "f.yaml")
	if len(fb.Diagnostics) != 0 {
		t.Fatalf("file path: %v", fb.Diagnostics)
	}
	for _, b := range []*resources.Bundle{rec.last(), fb} {
		ports := b.Services[0].Spec.Ports
		if len(ports) != 2 || ports[0].Name != "grpc-api" || ports[0].AppProtocol != nil ||
			ports[1].AppProtocol == nil || *ports[1].AppProtocol != "kubernetes.io/h2c" {
			t.Errorf("Service ports: %+v", ports)
		}
		if p := b.ServiceEntries[0].Spec.Ports[0].Protocol; p != "GRPC" {
			t.Errorf("ServiceEntry protocol %q", p)
		}
		h := b.DestinationRules[0].Spec.GetTrafficPolicy().GetConnectionPool().GetHttp()
		if h.GetH2UpgradePolicy() != networking.ConnectionPoolSettings_HTTPSettings_UPGRADE || !h.GetUseClientProtocol() {
			t.Errorf("DestinationRule connectionPool.http: %v", h)
		}
	}
}

// sourceOf applies doc(ns) with kubectl in a fresh namespace named prefix+random (deleted
// afterwards) and runs a source watching it; it returns the document and the recorder of
// the bundles the source publishes.
func sourceOf(t *testing.T, prefix string, doc func(ns string) string) (string, *recorder) {
	t.Helper()
	cfg, kubectl := realCluster(t)
	direct := kubernetes.NewForConfigOrDie(cfg)
	ns := prefix + randomSuffix(t)
	if _, err := direct.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	text := doc(ns)
	cmd := exec.Command(kubectl, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	rec := &recorder{}
	src, err := NewForClients(Options{Namespace: ns, WatchNamespaces: []string{ns}},
		direct, istioclient.NewForConfigOrDie(cfg), rec.publish, nil)
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, src)
	return text, rec
}
