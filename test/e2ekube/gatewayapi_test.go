package e2ekube

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/testkit"
)

// TestGatewayAPIOnKubernetes applies the walkthrough as Gateway API objects with kubectl
// to the real API server (CRDs installed from the module) and checks the same answers
// as the Istio version: 200s with each team's client certificate, a refused handshake
// with the other team's, 421 on an SNI/Host mismatch, the status, and the revocation of
// a host by deleting its Secret.
func TestGatewayAPIOnKubernetes(t *testing.T) {
	c := needCluster(t)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if out, _, code := run(t, dir, portcullisBin(t), "certs", "--dir", pki,
		"--host", frontendHost, "--host", inventoryHost); code != 0 {
		t.Fatalf("portcullis certs: exit %d\n%s", code, out)
	}
	ns := newNetns(t)
	ns.startBackend(t, frontendPort, demo.FrontendBody)
	ns.startBackend(t, inventoryPort, demo.InventoryBody)

	start := time.Now()
	testkit.InstallGatewayAPICRDs(t, c.kubectlBin, c.kubeconfig)
	t.Logf("CRDs installed in %v", time.Since(start).Round(time.Millisecond))
	c.resetCluster(t)
	cleanup := func() {
		c.mustKubectl(t, "", "", "delete", "gatewayclasses.gateway.networking.k8s.io", "portcullis", "--ignore-not-found")
		for _, s := range []struct{ ns, team string }{{"ux", "frontend"}, {"corp-services", "inventory"}} {
			c.mustKubectl(t, "", "", "delete", "-n", s.ns, "gateways.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io", s.team, "--ignore-not-found")
			c.mustKubectl(t, "", "", "delete", "-n", s.ns, "secret", s.team+"-cert", "--ignore-not-found")
			c.mustKubectl(t, "", "", "delete", "-n", s.ns, "configmap", s.team+"-client-ca", "--ignore-not-found")
		}
	}
	cleanup()
	t.Cleanup(func() {
		if !t.Failed() {
			cleanup()
			c.resetCluster(t)
		}
	})
	c.createNamespace(t, "ux")
	c.createNamespace(t, "corp-services")
	c.mustKubectl(t, "", backendManifests(ns.nsIP), "apply", "-f", "-")
	for _, s := range []struct{ ns, team, host string }{{"ux", "frontend", frontendHost}, {"corp-services", "inventory", inventoryHost}} {
		c.mustKubectl(t, pki, "", "create", "secret", "tls", s.team+"-cert", "-n", s.ns,
			"--cert="+s.host+"/3_application/certs/"+s.host+".cert.pem", "--key="+s.host+"/3_application/private/"+s.host+".key.pem")
		c.mustKubectl(t, pki, "", "create", "configmap", s.team+"-client-ca", "-n", s.ns,
			"--from-file=ca.crt="+s.host+"/2_intermediate/certs/ca-chain.cert.pem")
	}
	// The walkthrough's Gateways and HTTPRoutes (internal/gatewayapi/testdata).
	c.mustKubectl(t, "", "", "apply", "-f", repoFile("internal", "gatewayapi", "testdata", "walkthrough.yaml"))

	t.Logf("objects applied at %v", time.Since(start).Round(time.Millisecond))
	g := c.startGateway(t)
	t.Logf("gateway ready at %v", time.Since(start).Round(time.Millisecond))

	t.Run("each team with its own client cert", func(t *testing.T) {
		wantBody(t, pki, g.port, frontendHost, demo.FrontendBody)
		wantBody(t, pki, g.port, inventoryHost, demo.InventoryBody)
	})
	t.Run("the other team's client cert is refused", func(t *testing.T) {
		p := fmt.Sprint(g.port)
		out, _, code := run(t, pki, "curl", "-sS", "--resolve", frontendHost+":"+p+":127.0.0.1",
			"--cacert", frontendHost+"/2_intermediate/certs/ca-chain.cert.pem",
			"--cert", inventoryHost+"/4_client/certs/"+inventoryHost+".cert.pem",
			"--key", inventoryHost+"/4_client/private/"+inventoryHost+".key.pem", "https://"+frontendHost+":"+p+"/")
		if code == 0 {
			t.Fatalf("frontend accepted inventory's client cert: %q", out)
		}
	})
	t.Run("SNI/Host mismatch: 421", func(t *testing.T) {
		p := fmt.Sprint(g.port)
		out, _, code := run(t, pki, "curl", "-sS", "-HHost:"+inventoryHost, "--resolve", frontendHost+":"+p+":127.0.0.1",
			"--cacert", frontendHost+"/2_intermediate/certs/ca-chain.cert.pem",
			"--cert", frontendHost+"/4_client/certs/"+frontendHost+".cert.pem",
			"--key", frontendHost+"/4_client/private/"+frontendHost+".key.pem",
			"-o", "/dev/null", "-w", "%{http_code}", "https://"+frontendHost+":"+p+"/")
		if code != 0 || out != "421" {
			t.Errorf("curl exit %d, status %q, want 421", code, out)
		}
	})
	t.Run("status", func(t *testing.T) {
		st := testkit.GatewayAPIStatus(t, g.admin)
		for k, want := range map[string]string{
			"GatewayClass /portcullis Accepted":                    "True/Accepted",
			"Gateway ux/frontend Programmed":                       "True/Programmed",
			"Gateway corp-services/inventory https Programmed":     "True/Programmed",
			"Gateway corp-services/inventory https attachedRoutes": "1",
			"HTTPRoute corp-services/inventory inventory Accepted": "True/Accepted",
			"HTTPRoute ux/frontend frontend ResolvedRefs":          "True/ResolvedRefs",
		} {
			if st[k] != want {
				t.Errorf("%s = %q, want %q (all: %v)", k, st[k], want, st)
			}
		}
	})
	t.Run("kubectl delete secret revokes the host", func(t *testing.T) {
		c.mustKubectl(t, "", "", "delete", "-n", "corp-services", "secret", "inventory-cert")
		eventually(t, 10*time.Second, "inventory handshake fails", func() error {
			if out, _, code := curl(t, pki, g.port, inventoryHost, "/"); code == 0 {
				return fmt.Errorf("still served: %q", out)
			}
			return nil
		})
		wantBody(t, pki, g.port, frontendHost, demo.FrontendBody)
		st := testkit.GatewayAPIStatus(t, g.admin)
		if k := "Gateway corp-services/inventory https ResolvedRefs"; st[k] != "False/InvalidCertificateRef" {
			t.Errorf("%s = %q after the deletion", k, st[k])
		}
	})
	t.Run("status.addresses from --gateway-publish-service", func(t *testing.T) {
		// The LoadBalancer Service a cloud would fill in: its status is set through the API.
		c.mustKubectl(t, "", "", "create", "service", "loadbalancer", "pc-publish", "-n", "istio-system", "--tcp=443:8443")
		t.Cleanup(func() {
			c.mustKubectl(t, "", "", "delete", "service", "pc-publish", "-n", "istio-system", "--ignore-not-found")
		})
		setIngress := func(ingress string) {
			c.mustKubectl(t, "", "", "patch", "service", "pc-publish", "-n", "istio-system", "--subresource=status",
				"--type=merge", "-p", `{"status":{"loadBalancer":{"ingress":`+ingress+`}}}`)
		}
		setIngress(`[{"ip":"203.0.113.30"},{"hostname":"lb.example.test"}]`)
		g.stop()
		g.args = append(g.args, "--gateway-publish-service", "istio-system/pc-publish", "--leader-elect=false")
		g.start(t)
		addresses := func(want string) {
			eventually(t, 20*time.Second, "Gateway ux/frontend status.addresses "+want, func() error {
				out, err := c.kubectl(t, "", "", "get", "gateways.gateway.networking.k8s.io", "frontend", "-n", "ux",
					"-o", `jsonpath={range .status.addresses[*]}{.type}={.value} {end}`)
				if err != nil || strings.TrimSpace(out) != want {
					return fmt.Errorf("%q (%v)", out, err)
				}
				return nil
			})
		}
		addresses("IPAddress=203.0.113.30 Hostname=lb.example.test")
		setIngress(`[{"hostname":"lb2.example.test"}]`)
		addresses("Hostname=lb2.example.test")
	})
}
