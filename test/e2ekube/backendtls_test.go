package e2ekube

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testkit"
)

// TestBackendTLSPolicyOnKubernetes: a BackendTLSPolicy whose CA ConfigMap does not exist
// yet, applied with kubectl. Its Service's requests answer 500 and the policy's status
// (written to the API server) says ResolvedRefs False; once `kubectl create configmap`
// adds the CA, the status turns True and the gateway speaks TLS to the backend, which
// here serves plain HTTP: requests then fail (503), never reaching it in plaintext. The
// same backend without a policy answers 200 throughout.
func TestBackendTLSPolicyOnKubernetes(t *testing.T) {
	c := needCluster(t)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if out, _, code := run(t, dir, portcullisBin(t), "certs", "--dir", pki, "--host", "backend.internal"); code != 0 {
		t.Fatalf("portcullis certs: exit %d\n%s", code, out)
	}
	ns := newNetns(t)
	const port = 8090
	ns.startBackend(t, port, "plain backend")
	testkit.InstallGatewayAPICRDs(t, c.kubectlBin, c.kubeconfig)
	c.createNamespace(t, "btls")
	cleanup := func() {
		c.mustKubectl(t, "", "", "delete", "gatewayclasses.gateway.networking.k8s.io", "portcullis", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "btls", "gateways.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io,backendtlspolicies.gateway.networking.k8s.io,services,endpointslices.discovery.k8s.io,configmaps", "--all", "--ignore-not-found")
	}
	cleanup()
	t.Cleanup(func() {
		if !t.Failed() {
			cleanup()
		}
	})
	var objs strings.Builder
	for _, svc := range []string{"open", "guarded"} {
		fmt.Fprintf(&objs, `apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: btls}
spec: {ports: [{name: http, port: 80, targetPort: %[2]d}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[1]s-e2e, namespace: btls, labels: {kubernetes.io/service-name: %[1]s}}
addressType: IPv4
endpoints: [{addresses: [%[3]q], conditions: {ready: true}}]
ports: [{name: http, port: %[2]d, protocol: TCP}]
---
`, svc, port, ns.nsIP)
	}
	objs.WriteString(testkit.GatewayClassYAML + `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: btls}
spec:
  gatewayClassName: portcullis
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: btls}
spec:
  parentRefs: [{name: web}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /open}}]
    backendRefs: [{name: open, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /guarded}}]
    backendRefs: [{name: guarded, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: guarded, namespace: btls}
spec:
  targetRefs: [{group: "", kind: Service, name: guarded}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: guarded-ca}]
    hostname: backend.internal
`)
	c.mustKubectl(t, "", objs.String(), "apply", "-f", "-")

	g := &gateway{port: freePort(t), logs: &testkit.SyncBuffer{}}
	g.args = []string{"run", "--kubeconfig", c.kubeconfig, "--port-map", fmt.Sprintf("80=127.0.0.1:%d", g.port)}
	g.start(t)
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", g.logs.String())
		}
	})
	get := func(path string) (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", g.port, path))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	policyCond := func(typ string) string {
		out, _ := c.kubectl(t, "", "", "get", "-n", "btls", "backendtlspolicies.gateway.networking.k8s.io", "guarded", "-o",
			fmt.Sprintf(`jsonpath={.status.ancestors[0].ancestorRef.name}:{.status.ancestors[0].conditions[?(@.type=="%s")].status}/{.status.ancestors[0].conditions[?(@.type=="%s")].reason}`, typ, typ))
		return out
	}

	eventually(t, 20*time.Second, "the open route served", func() error {
		if code, body := get("/open"); code != 200 || strings.TrimSpace(body) != "plain backend" {
			return fmt.Errorf("/open: %d %q", code, body)
		}
		return nil
	})
	if code, body := get("/guarded"); code != 500 || !strings.Contains(body, "BackendTLSPolicy btls/guarded") {
		t.Errorf("/guarded without its CA: %d %q, want a 500 naming the policy", code, body)
	}
	eventually(t, 20*time.Second, "policy status written", func() error {
		if got := policyCond("ResolvedRefs"); got != "web:False/InvalidCACertificateRef" {
			return fmt.Errorf("ResolvedRefs %q", got)
		}
		if got := policyCond("Accepted"); got != "web:False/NoValidCACertificate" {
			return fmt.Errorf("Accepted %q", got)
		}
		return nil
	})

	c.mustKubectl(t, pki, "", "create", "configmap", "guarded-ca", "-n", "btls",
		"--from-file=ca.crt=backend.internal/2_intermediate/certs/ca-chain.cert.pem")
	eventually(t, 20*time.Second, "policy resolved", func() error {
		if got := policyCond("ResolvedRefs"); got != "web:True/ResolvedRefs" {
			return fmt.Errorf("ResolvedRefs %q", got)
		}
		return nil
	})
	// TLS to a plaintext backend: the handshake fails, the request never goes in clear.
	eventually(t, 10*time.Second, "TLS attempted towards the guarded backend", func() error {
		if code, body := get("/guarded"); code != 503 {
			return fmt.Errorf("/guarded: %d %q, want 503", code, body)
		}
		return nil
	})
	if code, _ := get("/open"); code != 200 {
		t.Errorf("/open after the policy resolved: %d", code)
	}
}
