package e2ekube

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	kubeTelemetryOn = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: e2e-mesh-default, namespace: istio-system}
spec:
  accessLogging: [{providers: [{name: envoy}]}]
`
	kubeTelemetryCEL = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: e2e-mesh-default, namespace: istio-system}
spec:
  accessLogging: [{filter: {expression: "response.code >= 400"}}]
`
)

// TestTelemetryOnKubernetes: a Telemetry applied with kubectl turns the access log on
// without a restart; one with a CEL filter is reported as an Event on it.
func TestTelemetryOnKubernetes(t *testing.T) {
	c := needCluster(t)
	g, client := c.walkthroughGateway(t, "telemetries.telemetry.istio.io", "e2e-mesh-default")
	// No backend runs: the routed request gets 503.
	if err := expect(client, frontendHost, "/?before=1", http.StatusServiceUnavailable, ""); err != nil {
		t.Fatal(err)
	}

	c.mustKubectl(t, "", kubeTelemetryOn, "apply", "-f", "-")
	n := 0
	eventually(t, 20*time.Second, "access log line after the Telemetry", func() error {
		n++
		p := fmt.Sprintf("/?k8s=%d", n)
		if err := expect(client, frontendHost, p, http.StatusServiceUnavailable, ""); err != nil {
			return err
		}
		if !strings.Contains(g.logs.String(), `"GET `+p+` `) {
			return fmt.Errorf("no access log line for %s", p)
		}
		return nil
	})
	if strings.Contains(g.logs.String(), `"GET /?before=1 `) {
		t.Error("a request before the Telemetry was logged")
	}

	c.mustKubectl(t, "", kubeTelemetryCEL, "apply", "-f", "-")
	eventually(t, 20*time.Second, "event on the Telemetry", func() error {
		out, err := c.kubectl(t, "", "", "describe", "telemetries.telemetry.istio.io", "-n", "istio-system", "e2e-mesh-default")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, "ConfigError") || !strings.Contains(out, "CEL") {
			return fmt.Errorf("no ConfigError event yet:\n%s", out)
		}
		return nil
	})
}

// walkthroughGateway starts a gateway on a reset cluster holding the walkthrough's frontend
// credential, Gateway and VirtualServices, with the named objects of resource in
// istio-system deleted before and after; it returns the gateway and an mTLS client of it.
func (c *cluster) walkthroughGateway(t *testing.T, resource string, names ...string) (*gateway, *http.Client) {
	t.Helper()
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if out, _, code := run(t, dir, portcullisBin(t), "certs", "--dir", pki, "--host", frontendHost); code != 0 {
		t.Fatalf("portcullis certs: exit %d\n%s", code, out)
	}
	c.resetCluster(t)
	del := func() {
		c.mustKubectl(t, "", "", append([]string{"delete", "-n", "istio-system", resource, "--ignore-not-found"}, names...)...)
	}
	del()
	t.Cleanup(func() {
		del()
		if !t.Failed() {
			c.resetCluster(t)
		}
	})
	c.mustKubectl(t, pki, "", createSecretCmd(frontendHost)...)
	c.mustKubectl(t, "", "", "apply", "-f", manifest("gateway.yaml"))
	c.mustKubectl(t, "", "", "apply", "-f", manifest("virtualservices.yaml"))
	g := c.startGateway(t)
	return g, mtlsClient(t, pki, g.port, frontendHost)
}
