package kube

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	istioclient "istio.io/client-go/pkg/clientset/versioned"

	"github.com/portcullis/portcullis/internal/decode"
)

// TestRealAPIServerDurations: Duration fields written as Istio users write them (500ms,
// 1h30m, 30ms) are accepted by the API server with Istio's CRDs and read by the source
// exactly as the file decoder reads the same document.
func TestRealAPIServerDurations(t *testing.T) {
	cfg, kubectl := realCluster(t)
	ctx := context.Background()
	direct := kubernetes.NewForConfigOrDie(cfg)
	ns := "pc-dur-" + randomSuffix(t)
	if _, err := direct.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	doc := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: ` + ns + `}
spec:
  hosts: [a.example.com]
  http:
  - timeout: 500ms
    retries: {attempts: 2, perTryTimeout: 1h30m}
    route: [{destination: {host: b}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr, namespace: ` + ns + `}
spec:
  host: b
  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 30ms}}}
`
	cmd := exec.Command(kubectl, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(doc)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	rec := &recorder{}
	src, err := NewForClients(Options{Namespace: ns, WatchNamespaces: []string{ns}},
		kubernetes.NewForConfigOrDie(cfg), istioclient.NewForConfigOrDie(cfg), rec.publish, nil)
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, src)
	eventually(t, 30*time.Second, func() string {
		if b := rec.last(); b == nil || len(b.VirtualServices) != 1 || len(b.DestinationRules) != 1 {
			return "not synced"
		}
		return ""
	})
	b := rec.last()
	r := b.VirtualServices[0].Spec.Http[0]
	if r.Timeout.AsDuration() != 500*time.Millisecond || r.Retries.PerTryTimeout.AsDuration() != 90*time.Minute {
		t.Errorf("API server path: timeout %v, perTryTimeout %v", r.Timeout.AsDuration(), r.Retries.PerTryTimeout.AsDuration())
	}
	if got := b.DestinationRules[0].Spec.TrafficPolicy.ConnectionPool.Tcp.ConnectTimeout.AsDuration(); got != 30*time.Millisecond {
		t.Errorf("API server path: connectTimeout %v", got)
	}
	fb := decode.Decode([]byte(doc), "f.yaml")
	if len(fb.Diagnostics) != 0 {
		t.Fatalf("file path: %v", fb.Diagnostics)
	}
	if fr := fb.VirtualServices[0].Spec.Http[0]; fr.Timeout.AsDuration() != r.Timeout.AsDuration() || fr.Retries.PerTryTimeout.AsDuration() != r.Retries.PerTryTimeout.AsDuration() {
		t.Errorf("file and API server paths differ: %v/%v vs %v/%v", fr.Timeout.AsDuration(), fr.Retries.PerTryTimeout.AsDuration(), r.Timeout.AsDuration(), r.Retries.PerTryTimeout.AsDuration())
	}
}

// runSource runs src until the test ends.
func runSource(t *testing.T, src *Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}
