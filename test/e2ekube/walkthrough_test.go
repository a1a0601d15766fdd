package e2ekube

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/demo"
)

// TestWalkthroughOnKubernetes replays the walkthrough as written against a real API
// server, with two gateway replicas: both bodies, rotation and deletion of a Secret with
// kubectl, a VirtualService edit, one replica crashing and coming back, and events on
// the objects.
func TestWalkthroughOnKubernetes(t *testing.T) {
	c := needCluster(t)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if out, _, code := run(t, dir, portcullisBin(t), "certs", "--dir", pki,
		"--host", frontendHost, "--host", inventoryHost); code != 0 {
		t.Fatalf("portcullis certs: exit %d\n%s", code, out)
	}

	// Backends: the two teams' services, at a routable address in a network namespace.
	ns := newNetns(t)
	ns.startBackend(t, frontendPort, demo.FrontendBody)
	ns.startBackend(t, inventoryPort, demo.InventoryBody)

	c.resetCluster(t)
	t.Cleanup(func() {
		if !t.Failed() {
			c.resetCluster(t) // leave the shared API server as we found it
		}
	})
	// "Then we'll create two namespaces, ux and corp-services ... apply ... Services."
	c.createNamespace(t, "ux")
	c.createNamespace(t, "corp-services")
	c.mustKubectl(t, "", backendManifests(ns.nsIP), "apply", "-f", "-")
	// "We generate Kubernetes secrets from these keys", exactly as written.
	c.mustKubectl(t, pki, "", createSecretCmd(frontendHost)...)
	c.mustKubectl(t, pki, "", createSecretCmd(inventoryHost)...)
	// The Gateway and both VirtualServices, verbatim.
	c.mustKubectl(t, "", "", "apply", "-f", manifest("gateway.yaml"))
	c.mustKubectl(t, "", "", "apply", "-f", manifest("virtualservices.yaml"))

	a, b := c.startGateway(t), c.startGateway(t)
	replicas := []*gateway{a, b}

	t.Run("curl as the walkthrough does", func(t *testing.T) {
		for _, g := range replicas {
			wantBody(t, pki, g.port, frontendHost, demo.FrontendBody)
			wantBody(t, pki, g.port, inventoryHost, demo.InventoryBody)
		}
	})

	t.Run("replicas serve identically", func(t *testing.T) {
		for _, host := range []string{frontendHost, inventoryHost} {
			want := fileSerial(t, filepath.Join(pki, host, "3_application", "certs", host+".cert.pem"))
			for _, g := range replicas {
				if got := servedSerial(t, pki, g.port, host); got != want {
					t.Errorf("port %d %s: serial %q, want %q", g.port, host, got, want)
				}
			}
		}
	})

	t.Run("one replica crashing does not affect the other", func(t *testing.T) {
		client := mtlsClient(t, pki, a.port, frontendHost)
		b.kill(t)
		if err := expect(client, frontendHost, "/", http.StatusOK, demo.FrontendBody); err != nil {
			t.Fatalf("replica A after B died: %v", err)
		}
		b.start(t)
		if err := expect(client, frontendHost, "/", http.StatusOK, demo.FrontendBody); err != nil {
			t.Fatalf("replica A after B restarted: %v", err)
		}
		wantBody(t, pki, b.port, inventoryHost, demo.InventoryBody)
	})

	t.Run("kubectl replace of the secret serves the new certificate without restart", func(t *testing.T) {
		serial := rotateServerCert(t, pki, inventoryHost)
		c.shell(t, pki, "kubectl "+strings.Join(createSecretCmd(inventoryHost), " ")+
			" --dry-run=client -o yaml | kubectl replace -f -")
		for _, g := range replicas {
			eventually(t, 10*time.Second, "new serial served", func() error {
				if got := servedSerial(t, pki, g.port, inventoryHost); got != serial {
					return fmt.Errorf("port %d serves serial %q, want %q", g.port, got, serial)
				}
				return nil
			})
			wantBody(t, pki, g.port, inventoryHost, demo.InventoryBody)
		}
	})

	t.Run("VirtualService edit routes within 1s", func(t *testing.T) {
		edited := filepath.Join(t.TempDir(), "virtualservices.yaml")
		if err := os.WriteFile(edited, []byte(editedVirtualServices(t)), 0o644); err != nil {
			t.Fatal(err)
		}
		client := mtlsClient(t, pki, a.port, frontendHost)
		if err := expect(client, frontendHost, "/v2", http.StatusNotFound, ""); err != nil {
			t.Fatal(err)
		}
		c.mustKubectl(t, "", "", "apply", "-f", edited)
		applied := time.Now()
		eventually(t, 10*time.Second, "route /v2", func() error {
			return expect(client, frontendHost, "/v2", http.StatusOK, demo.FrontendBody)
		})
		took := time.Since(applied)
		t.Logf("route change served %v after kubectl apply returned", took)
		if took > time.Second {
			t.Errorf("route change took %v, want within 1s", took)
		}
		if err := expect(client, frontendHost, "/", http.StatusNotFound, ""); err != nil {
			t.Error(err)
		}
		c.mustKubectl(t, "", "", "apply", "-f", manifest("virtualservices.yaml"))
		eventually(t, 10*time.Second, "route / back", func() error {
			return expect(client, frontendHost, "/", http.StatusOK, demo.FrontendBody)
		})
	})

	t.Run("API server loss keeps serving and resumes without restart", func(t *testing.T) {
		apiServerLoss(t, c, pki)
	})

	t.Run("kubectl delete secret fails inventory handshakes only", func(t *testing.T) {
		c.mustKubectl(t, "", "", "delete", "-n", "istio-system", "secret", "inventory-credential")
		for _, g := range replicas {
			eventually(t, 10*time.Second, "inventory handshake fails", func() error {
				if out, _, code := curl(t, pki, g.port, inventoryHost, "/"); code == 0 {
					return fmt.Errorf("port %d still serves inventory: %q", g.port, out)
				}
				return nil
			})
			wantBody(t, pki, g.port, frontendHost, demo.FrontendBody)
		}
		// The missing credential is reported on the Gateway that references it.
		eventually(t, 20*time.Second, "event in kubectl describe gateway", func() error {
			out, err := c.kubectl(t, "", "", "describe", "gateways.networking.istio.io", "-n", "default", "foocorp-gateway")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			if !strings.Contains(out, "ConfigError") || !strings.Contains(out, `credentialName "inventory-credential"`) {
				return fmt.Errorf("no ConfigError event for inventory-credential yet:\n%s", out)
			}
			return nil
		})
	})

	t.Run("diagnostics become events on the object", func(t *testing.T) {
		orphan := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: orphan
  namespace: default
spec:
  hosts: ["orphan.foocorp.com"]
  gateways: ["no-such-gateway"]
  http:
  - route:
    - destination:
        host: frontend.ux.svc.cluster.local
`
		c.mustKubectl(t, "", orphan, "apply", "-f", "-")
		eventually(t, 20*time.Second, "event in kubectl describe", func() error {
			out, err := c.kubectl(t, "", "", "describe", "virtualservices.networking.istio.io", "-n", "default", "orphan")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			if !strings.Contains(out, "ConfigWarning") || !strings.Contains(out, "no-such-gateway") {
				return fmt.Errorf("no ConfigWarning event yet:\n%s", out)
			}
			return nil
		})
	})
}
