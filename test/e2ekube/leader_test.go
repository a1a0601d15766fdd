package e2ekube

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testkit"
)

// TestStatusLeaderOnKubernetes runs two `portcullis run --kubeconfig` replicas that
// compete for the status Lease: one holds it and writes the Gateway API statuses, both
// serve; when the holder is killed (SIGKILL: the Lease is not released) the other takes it
// within the lease duration, writes the status of a route created after the kill, and
// serves throughout.
func TestStatusLeaderOnKubernetes(t *testing.T) {
	c := needCluster(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	sfx := hex.EncodeToString(b)
	ns, lease := "pc-leader-"+sfx, "pc-status-"+sfx
	c.createNamespace(t, ns)
	t.Cleanup(func() {
		_, _ = c.kubectl(t, "", "", "delete", "namespace", ns, "--wait=false")
		_, _ = c.kubectl(t, "", "", "delete", "gatewayclass", ns, "--wait=false")
	})
	// The Gateway API kinds are read when served at start: install the CRDs first. A class
	// of a controllerName only these replicas own keeps other gateways out of it.
	testkit.InstallGatewayAPICRDs(t, c.kubectlBin, c.kubeconfig)
	controller := "portcullis.test/leader-" + sfx
	c.mustKubectl(t, "", fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: %[1]s}
spec: {controllerName: %[2]s}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: %[1]s}
spec:
  gatewayClassName: %[1]s
  listeners: [{name: http, port: 8081, protocol: HTTP}]
---
`+httpRoute("r1"), ns, controller), "apply", "-f", "-")
	// A Gateway only these replicas select (their --labels), answered by a directResponse.
	c.mustKubectl(t, "", fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: %[1]s}
spec:
  selector: {portcullis.test/leader: "%[2]s"}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["leader-%[2]s.example.test"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: %[1]s}
spec:
  hosts: ["leader-%[2]s.example.test"]
  gateways: [gw]
  http:
  - directResponse: {status: 200, body: {string: "served by a replica"}}
`, ns, sfx), "apply", "-f", "-")

	const leaseDuration = 3 * time.Second
	start := func(id string) *gateway {
		g := &gateway{port: freePort(t), logs: &testkit.SyncBuffer{}}
		g.args = []string{"run", "--kubeconfig", c.kubeconfig, "--namespace", ns,
			"--labels", "portcullis.test/leader=" + sfx, "--gateway-controller-name", controller,
			"--listen-host", "127.0.0.1", "--port-map", fmt.Sprintf("8080=127.0.0.1:%d", g.port),
			"--port-map", fmt.Sprintf("8081=127.0.0.1:%d", freePort(t)),
			"--leader-elect-lease", lease, "--leader-elect-identity", id,
			"--leader-elect-lease-duration", leaseDuration.String(),
			"--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "500ms"}
		g.start(t)
		t.Cleanup(func() {
			g.stop()
			if t.Failed() {
				t.Logf("replica %s logs:\n%s", id, g.logs.String())
			}
		})
		return g
	}
	serves := func(g *gateway) error {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", g.port), nil)
		req.Host = "leader-" + sfx + ".example.test"
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "served by a replica" {
			return fmt.Errorf("port %d: %d %q", g.port, resp.StatusCode, body)
		}
		return nil
	}
	holder := func() string {
		out, _ := c.kubectl(t, "", "", "get", "leases.coordination.k8s.io", "-n", ns, lease, "-o", "jsonpath={.spec.holderIdentity}")
		return strings.TrimSpace(out)
	}

	replicas := map[string]*gateway{"replica-a": start("replica-a"), "replica-b": start("replica-b")}
	for id, g := range replicas {
		eventually(t, 20*time.Second, id+" serves", func() error { return serves(g) })
	}
	var leader string
	eventually(t, 20*time.Second, "a replica holds the Lease", func() error {
		if leader = holder(); replicas[leader] == nil {
			return fmt.Errorf("Lease %s/%s held by %q", ns, lease, leader)
		}
		return nil
	})
	follower := "replica-a"
	if leader == follower {
		follower = "replica-b"
	}
	writing := "writing Gateway API statuses"
	eventually(t, 10*time.Second, leader+" writes statuses", func() error {
		if !strings.Contains(replicas[leader].logs.String(), writing) {
			return fmt.Errorf("no %q in its log", writing)
		}
		return nil
	})
	if strings.Contains(replicas[follower].logs.String(), writing) {
		t.Fatalf("%s writes statuses although %s holds the Lease", follower, leader)
	}
	jsonpath := func(kind, name, path string) string {
		out, _ := c.kubectl(t, "", "", "get", kind, "-n", ns, name, "-o", "jsonpath="+path)
		return strings.TrimSpace(out)
	}
	routeAccepted := func(name string) func() error {
		return func() error {
			path := fmt.Sprintf(`{.status.parents[?(@.controllerName=="%s")].conditions[?(@.type=="Accepted")].status}`, controller)
			if got := jsonpath("httproute", name, path); got != "True" {
				return fmt.Errorf("HTTPRoute %s Accepted of %s: %q", name, controller, got)
			}
			return nil
		}
	}
	eventually(t, 20*time.Second, "statuses written", func() error {
		if got := jsonpath("gatewayclass", ns, `{.status.conditions[?(@.type=="Accepted")].status}`); got != "True" {
			return fmt.Errorf("GatewayClass Accepted %q", got)
		}
		if got := jsonpath("gateway", "gw", `{.status.conditions[?(@.type=="Accepted")].status}`); got != "True" {
			return fmt.Errorf("Gateway Accepted %q", got)
		}
		return routeAccepted("r1")()
	})

	replicas[leader].kill(t)
	killed := time.Now()
	if err := serves(replicas[follower]); err != nil {
		t.Errorf("%s right after the leader died: %v", follower, err)
	}
	// Created after the kill: only the new leader can write its status.
	c.mustKubectl(t, "", fmt.Sprintf(httpRoute("r2"), ns), "apply", "-f", "-")
	eventually(t, 30*time.Second, follower+" takes the Lease", func() error {
		if h := holder(); h != follower {
			return fmt.Errorf("held by %q", h)
		}
		if !strings.Contains(replicas[follower].logs.String(), writing) {
			return fmt.Errorf("%s holds the Lease but does not write", follower)
		}
		return nil
	})
	eventually(t, 30*time.Second, follower+" writes the new route's status", routeAccepted("r2"))
	took := time.Since(killed)
	t.Logf("%s took over %v after %s was killed (lease duration %v)", follower, took, leader, leaseDuration)
	if took > leaseDuration+5*time.Second { // retry period, kubectl polling, a loaded machine
		t.Errorf("takeover took %v, lease duration %v", took, leaseDuration)
	}
	if err := serves(replicas[follower]); err != nil {
		t.Errorf("%s after taking over: %v", follower, err)
	}
	if err := replicas[follower].ready(); err != nil {
		t.Errorf("%s: %v", follower, err)
	}
}

// httpRoute is an HTTPRoute attached to Gateway gw of namespace %[1]s (a format string).
func httpRoute(name string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ` + name + `, namespace: %[1]s}
spec:
  parentRefs: [{name: gw}]
  hostnames: [` + name + `.leader.example.test]
  rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
`
}
