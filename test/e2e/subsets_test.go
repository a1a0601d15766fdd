package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// podBackends are HTTP servers on 127.0.0.2, .3, .4 ... sharing one port (an EndpointSlice
// has one port for all its endpoints), each answering its name and counting requests.
type podBackends struct {
	port   int
	mu     sync.Mutex
	counts map[string]int
}

func startPodBackends(t *testing.T, names ...string) *podBackends {
	t.Helper()
	for attempt := 0; ; attempt++ {
		b := &podBackends{counts: map[string]int{}}
		var lns []net.Listener
		ok := true
		for i := range names {
			addr := fmt.Sprintf("127.0.0.%d:%d", i+2, b.port)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				ok = false
				break
			}
			if b.port == 0 {
				b.port = ln.Addr().(*net.TCPAddr).Port
			}
			lns = append(lns, ln)
		}
		if !ok {
			for _, ln := range lns {
				ln.Close()
			}
			if attempt == 10 {
				t.Fatal("no port free on every backend address")
			}
			continue
		}
		for i, ln := range lns {
			name := names[i]
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				b.mu.Lock()
				b.counts[name]++
				b.mu.Unlock()
				_, _ = io.WriteString(w, name)
			})}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { srv.Close() })
		}
		return b
	}
}

func (b *podBackends) take() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.counts
	b.counts = map[string]int{}
	return c
}

func podYAML(name, ip, version string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: shop, labels: {app: web, version: %s}}
spec: {containers: [{name: web, image: example.invalid/web}]}
status: {podIP: %s}
`, name, version, ip)
}

// TestCanaryByPodLabels: the usual canary on a Kubernetes Service, in file mode — Pods,
// the Service and its EndpointSlice as manifests, DestinationRule subsets v1/v2 by the
// pods' version label, a VirtualService splitting 90/10. Each backend gets its subset's
// share; relabelling a Pod (editing its manifest) moves it to the other subset.
func TestCanaryByPodLabels(t *testing.T) {
	be := startPodBackends(t, "web-a", "web-b", "web-c")
	dir := t.TempDir()
	cfg := shopGateway("shop.example.com") + fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: %[1]d}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: %[1]d}]
endpoints:
- addresses: [127.0.0.2]
  targetRef: {kind: Pod, name: web-a, namespace: shop}
- addresses: [127.0.0.3]
  targetRef: {kind: Pod, name: web-b, namespace: shop}
- addresses: [127.0.0.4]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [gw]
  http:
  - route:
    - {destination: {host: web, subset: v1}, weight: 90}
    - {destination: {host: web, subset: v2}, weight: 10}
`, be.port)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("shop.yaml", cfg)
	// web-c has no targetRef: found by its address.
	writeValid(t, dir, "pods.yaml", podYAML("web-a", "127.0.0.2", "v1")+"---\n"+podYAML("web-b", "127.0.0.3", "v1")+"---\n"+podYAML("web-c", "127.0.0.4", "v2"))
	port := freePort(t)
	startGateway(t, "--config", dir, "--port-map", "80=127.0.0.1:"+strconv.Itoa(port))
	client := &http.Client{Timeout: 10 * time.Second}
	get := func() (int, string) {
		code, body, err := hostGet(client, port, "shop.example.com", "/")
		if err != nil {
			t.Fatal(err)
		}
		return code, body
	}
	const n = 200
	send := func() map[string]int {
		t.Helper()
		be.take()
		for range n {
			if code, body := get(); code != http.StatusOK {
				t.Fatalf("status %d %q", code, body)
			}
		}
		return be.take()
	}
	// 90/10 between subsets; v1 = web-a + web-b, v2 = web-c. Bounds are many standard
	// deviations wide (v2 ~ Binomial(200, 0.1): mean 20, sd 4.2).
	c := send()
	if v1, v2 := c["web-a"]+c["web-b"], c["web-c"]; v2 < 5 || v2 > 45 || v1+v2 != n || c["web-a"] == 0 || c["web-b"] == 0 {
		t.Fatalf("before relabel: %v, want v1 (web-a, web-b) ~180 and v2 (web-c) ~20", c)
	}

	// The canary grows: web-b is relabelled v2.
	write("pods.yaml", podYAML("web-a", "127.0.0.2", "v1")+"---\n"+podYAML("web-b", "127.0.0.3", "v2")+"---\n"+podYAML("web-c", "127.0.0.4", "v2"))
	eventually(t, 10*time.Second, "web-b in subset v2", func() error {
		c = send()
		if v1, v2 := c["web-a"], c["web-b"]+c["web-c"]; v2 < 5 || v2 > 45 || v1+v2 != n {
			return fmt.Errorf("after relabel: %v, want web-a ~180 and web-b + web-c ~20", c)
		}
		return nil
	})
	if !strings.Contains(fmt.Sprint(c), "web-a") {
		t.Fatalf("after relabel: %v", c)
	}
}
