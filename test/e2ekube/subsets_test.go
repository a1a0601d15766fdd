package e2ekube

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCanaryByPodLabelsOnKubernetes: issue 12's Kubernetes canary, end to end on the real
// API server — Pods labelled version v1/v2, a Service whose EndpointSlices target them,
// DestinationRule subsets by the version label, and a VirtualService sending x-canary
// requests to v2. The gateway resolves each endpoint's Pod (EndpointSlice targetRef)
// through its Pod informer; relabelling a Pod with kubectl moves it between subsets.
func TestCanaryByPodLabelsOnKubernetes(t *testing.T) {
	c := needCluster(t)
	ns := newNetns(t)
	const portA, portB = 8093, 8094
	ns.startBackend(t, portA, "web-a")
	ns.startBackend(t, portB, "web-b")
	c.resetCluster(t)
	c.createNamespace(t, "canary")
	cleanup := func() {
		c.mustKubectl(t, "", "", "delete", "-n", "canary",
			"gateways.networking.istio.io,virtualservices.networking.istio.io,destinationrules.networking.istio.io,services,endpointslices.discovery.k8s.io",
			"--all", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "canary", "pods", "--all", "--grace-period=0", "--force", "--ignore-not-found")
	}
	cleanup()
	t.Cleanup(func() {
		if !t.Failed() {
			cleanup()
		}
	})
	pod := func(name, version string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: canary, labels: {app: web, version: %s}}
spec: {containers: [{name: web, image: example.invalid/web}]}
---
`, name, version)
	}
	slice := func(name string, port int) string {
		return fmt.Sprintf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[1]s, namespace: canary, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [%[3]q], conditions: {ready: true}, targetRef: {kind: Pod, namespace: canary, name: %[1]s}}]
ports: [{name: http, port: %[2]d, protocol: TCP}]
---
`, name, port, ns.nsIP)
	}
	// No controllers run: the ServiceAccount admission needs the namespace's default one.
	c.mustKubectl(t, "", `apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: canary}
---
`+pod("web-a", "v1")+pod("web-b", "v2")+`apiVersion: v1
kind: Service
metadata: {name: web, namespace: canary}
spec: {ports: [{name: http, port: 80, targetPort: http}]}
---
`+slice("web-a", portA)+slice("web-b", portB)+`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: canary}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: canary-gw, namespace: canary}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: http, protocol: HTTP}
    hosts: [canary.kube.example]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: canary}
spec:
  hosts: [canary.kube.example]
  gateways: [canary-gw]
  http:
  - match: [{headers: {x-canary: {exact: "yes"}}}]
    route: [{destination: {host: web, subset: v2}}]
  - route: [{destination: {host: web, subset: v1}}]
`, "apply", "-f", "-")

	g := c.startGateway(t)
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	get := func(canary bool) (int, string) {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(g.port)+"/", nil)
		req.Host = "canary.kube.example"
		if canary {
			req.Header.Set("x-canary", "yes")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	// expect: n requests of each kind all answered by the given backends ("" = 503).
	expect := func(what string, stable, canary []string) {
		t.Helper()
		eventually(t, 30*time.Second, what, func() error {
			for _, tc := range []struct {
				canary bool
				want   []string
			}{{false, stable}, {true, canary}} {
				seen := map[string]bool{}
				for range 10 {
					code, body := get(tc.canary)
					switch {
					case len(tc.want) == 0 && code == http.StatusServiceUnavailable:
						seen[""] = true
					case code == http.StatusOK:
						seen[body] = true
					default:
						return fmt.Errorf("canary=%v: %d %q", tc.canary, code, body)
					}
				}
				want := map[string]bool{}
				for _, w := range tc.want {
					want[w] = true
				}
				if len(tc.want) == 0 {
					want[""] = true
				}
				if fmt.Sprint(seen) != fmt.Sprint(want) {
					return fmt.Errorf("canary=%v: answered by %v, want %v", tc.canary, seen, want)
				}
			}
			return nil
		})
	}
	expect("v1 = web-a, v2 = web-b", []string{"web-a"}, []string{"web-b"})

	// The canary is promoted: web-b relabelled v1 joins the stable subset, v2 is empty.
	c.mustKubectl(t, "", "", "label", "-n", "canary", "pod", "web-b", "version=v1", "--overwrite")
	expect("web-b moved to v1", []string{"web-a", "web-b"}, nil)
}
