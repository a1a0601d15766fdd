package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/testkit"
)

// The FooCorp walkthrough written as Kubernetes Gateway API objects: each team owns a
// Gateway in its namespace with its own certificate (certificateRefs) and its own client
// CA (spec.tls.frontend, a ConfigMap); both Gateways listen on 443 and share it, the SNI
// choosing, as Istio merges Gateways.

// gwapiWalkthrough is the walkthrough's Gateways and HTTPRoutes as Gateway API objects.
func gwapiWalkthrough(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(repoFile("internal", "gatewayapi", "testdata", "walkthrough.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gwapiService is a Service with one ready endpoint on 127.0.0.1:port.
func gwapiService(ns, name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[2]s, namespace: %[1]s}
spec: {ports: [{name: http, port: 80, targetPort: %[3]d}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[2]s-1, namespace: %[1]s, labels: {kubernetes.io/service-name: %[2]s}}
addressType: IPv4
ports: [{name: http, port: %[3]d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, ns, name, port)
}

// gwapiTLSSecret is a kubernetes.io/tls Secret holding host's server certificate.
func gwapiTLSSecret(t *testing.T, pki, ns, name, host string) string {
	t.Helper()
	p := certs.PathsFor(pki, host)
	b64 := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: %s\n  tls.key: %s\n",
		name, ns, b64(p.ServerCert), b64(p.ServerKey))
}

// gwapiCAConfigMap holds host's CA chain under ca.crt (the client CA of its team).
func gwapiCAConfigMap(t *testing.T, pki, ns, name, host string) string {
	t.Helper()
	b, err := os.ReadFile(certs.PathsFor(pki, host).Chain)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata:\n  ca.crt: %q\n", name, ns, string(b))
}

const (
	gwFE, gwInv, gwCross = "frontend.foocorp.com", "inventory.foocorp.com", "partners.foocorp.com"
)

// gwapiEnv is the walkthrough in Gateway API form, plus an "edge" Gateway whose
// certificate is in another namespace.
type gwapiEnv struct {
	walkthroughEnv
}

func setupGatewayAPI(t *testing.T) *gwapiEnv {
	t.Helper()
	e := &gwapiEnv{walkthroughEnv{dir: t.TempDir()}}
	e.pki = filepath.Join(e.dir, "pki")
	e.config = filepath.Join(e.dir, "config")
	if err := os.MkdirAll(e.config, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "certs", "--dir", e.pki, "--host", gwFE, "--host", gwInv, "--host", gwCross); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	fp, _ := backend(t, frontendBody)
	ip, stopInv := backend(t, inventoryBody)
	pp, _ := backend(t, "partners")
	e.stopInventory = stopInv
	files := map[string]string{
		"walkthrough.yaml": gwapiWalkthrough(t),
		"services.yaml":    gwapiService("ux", "frontend", fp) + "---\n" + gwapiService("corp-services", "inventory", ip),
		"frontend-secrets.yaml": gwapiTLSSecret(t, e.pki, "ux", "frontend-cert", gwFE) + "---\n" +
			gwapiCAConfigMap(t, e.pki, "ux", "frontend-client-ca", gwFE),
		"inventory-cert.yaml": gwapiTLSSecret(t, e.pki, "corp-services", "inventory-cert", gwInv),
		"inventory-ca.yaml":   gwapiCAConfigMap(t, e.pki, "corp-services", "inventory-client-ca", gwInv),
		// The edge team's certificate is kept in namespace "certs".
		"partners.yaml": `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: edge}
spec:
  gatewayClassName: portcullis
  listeners:
  - {name: partners, port: 443, protocol: HTTPS, hostname: ` + gwCross + `, tls: {certificateRefs: [{name: partners-cert, namespace: certs}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: partners, namespace: edge}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: partners, port: 80}]}]
---
` + gwapiService("edge", "partners", pp) + "---\n" + gwapiTLSSecret(t, e.pki, "certs", "partners-cert", gwCross),
	}
	for name, content := range files {
		writeFile(t, filepath.Join(e.config, name), content)
	}
	e.port = freePort(t)
	start := time.Now()
	e.gw = startGateway(t, "--config", e.config, "--port-map", "443=127.0.0.1:"+strconv.Itoa(e.port))
	t.Logf("gateway ready in %v", time.Since(start).Round(time.Millisecond))
	return e
}

func TestGatewayAPIWalkthrough(t *testing.T) {
	e := setupGatewayAPI(t)

	t.Run("each team with its own client cert", func(t *testing.T) {
		for host, body := range map[string]string{gwFE: frontendBody, gwInv: inventoryBody} {
			out, errOut, code := e.curl(t, host, host, host, "/")
			if code != 0 || strings.TrimSpace(out) != body {
				t.Errorf("%s: curl exit %d, body %q, stderr %s", host, code, out, errOut)
			}
		}
	})
	t.Run("the other team's client cert is refused in the handshake", func(t *testing.T) {
		out, errOut, code := e.curl(t, gwFE, gwFE, gwInv, "/")
		if code == 0 {
			t.Fatalf("frontend accepted inventory's client cert: %q", out)
		}
		t.Logf("curl exit %d: %s", code, strings.TrimSpace(errOut))
		if _, _, code := e.curl(t, gwInv, gwInv, "", "/"); code == 0 {
			t.Error("inventory accepted a client without a certificate")
		}
	})
	t.Run("SNI of one team, Host of the other: 421", func(t *testing.T) {
		out, _, code := e.curl(t, gwFE, gwInv, gwFE, "/", "-o", "/dev/null", "-w", "%{http_code}")
		if code != 0 || out != "421" {
			t.Errorf("curl exit %d, status %q, want 421", code, out)
		}
	})
	t.Run("status", func(t *testing.T) {
		st := testkit.GatewayAPIStatus(t, e.gw.admin)
		for k, want := range map[string]string{
			"GatewayClass /portcullis Accepted":                        "True/Accepted",
			"Gateway ux/frontend Programmed":                           "True/Programmed",
			"Gateway corp-services/inventory https ResolvedRefs":       "True/ResolvedRefs",
			"HTTPRoute corp-services/inventory inventory Accepted":     "True/Accepted",
			"Gateway edge/edge partners ResolvedRefs":                  "False/RefNotPermitted",
			"Gateway edge/edge partners Programmed":                    "False/Invalid",
			"HTTPRoute edge/partners edge Accepted":                    "True/Accepted",
			"Gateway corp-services/inventory https Conflicted":         "False/NoConflicts",
			"HTTPRoute corp-services/inventory inventory ResolvedRefs": "True/ResolvedRefs",
		} {
			if st[k] != want {
				t.Errorf("%s = %q, want %q", k, st[k], want)
			}
		}
	})

	t.Run("certificateRefs across namespaces", func(t *testing.T) {
		// Without a ReferenceGrant the partners host is not served at all.
		if out, _, code := e.curl(t, gwCross, gwCross, "", "/"); code == 0 {
			t.Fatalf("partners served without a ReferenceGrant: %q", out)
		}
		writeFile(t, filepath.Join(e.config, "grant.yaml"), `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: edge-certs, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: edge}]
  to: [{group: "", kind: Secret, name: partners-cert}]
`)
		eventually(t, 5*time.Second, "partners served with the ReferenceGrant", func() error {
			out, errOut, code := e.curl(t, gwCross, gwCross, "", "/")
			if code != 0 || strings.TrimSpace(out) != "partners" {
				return fmt.Errorf("curl exit %d, body %q, %s", code, out, errOut)
			}
			return nil
		})
		if st := testkit.GatewayAPIStatus(t, e.gw.admin); st["Gateway edge/edge partners ResolvedRefs"] != "True/ResolvedRefs" {
			t.Errorf("partners ResolvedRefs = %q after the grant", st["Gateway edge/edge partners ResolvedRefs"])
		}
	})

	t.Run("rotation of a referenced Secret", func(t *testing.T) {
		feBefore := e.servedSerial(t, gwFE)
		if err := certs.IssueServer(e.pki, gwInv, certs.Options{}); err != nil {
			t.Fatal(err)
		}
		want := fileSerial(t, certs.PathsFor(e.pki, gwInv).ServerCert)
		written := time.Now()
		writeFile(t, filepath.Join(e.config, "inventory-cert.yaml"), gwapiTLSSecret(t, e.pki, "corp-services", "inventory-cert", gwInv))
		eventually(t, 5*time.Second, "the new inventory certificate served", func() error {
			if got := e.servedSerial(t, gwInv); got != want {
				return fmt.Errorf("serial %s, want %s", got, want)
			}
			return nil
		})
		t.Logf("rotated certificate served %v after the write", time.Since(written).Round(time.Millisecond))
		if out, errOut, code := e.curl(t, gwInv, gwInv, gwInv, "/"); code != 0 || strings.TrimSpace(out) != inventoryBody {
			t.Errorf("inventory after rotation: exit %d, %q, %s", code, out, errOut)
		}
		if got := e.servedSerial(t, gwFE); got != feBefore {
			t.Errorf("frontend serial changed from %s to %s", feBefore, got)
		}
	})

	t.Run("deletion of a referenced Secret revokes the host", func(t *testing.T) {
		if err := os.Remove(filepath.Join(e.config, "inventory-cert.yaml")); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "inventory no longer served", func() error {
			if out, _, code := e.curl(t, gwInv, gwInv, gwInv, "/"); code == 0 {
				return fmt.Errorf("still served: %q", out)
			}
			return nil
		})
		if out, errOut, code := e.curl(t, gwFE, gwFE, gwFE, "/"); code != 0 || strings.TrimSpace(out) != frontendBody {
			t.Errorf("frontend after the deletion: exit %d, %q, %s", code, out, errOut)
		}
		if st := testkit.GatewayAPIStatus(t, e.gw.admin); st["Gateway corp-services/inventory https ResolvedRefs"] != "False/InvalidCertificateRef" {
			t.Errorf("inventory ResolvedRefs = %q after the deletion", st["Gateway corp-services/inventory https ResolvedRefs"])
		}
	})

	t.Run("validate reports status and the refused reference", func(t *testing.T) {
		out, err := run(t, "validate", "--config", e.config)
		if err == nil {
			t.Fatalf("validate exited 0 with a deleted certificate:\n%s", out)
		}
		for _, want := range []string{
			"Gateway corp-services/inventory spec.listeners[0].tls.certificateRefs[0]",
			"Secret corp-services/inventory-cert not found",
			"status: Gateway ux/frontend Accepted=True Programmed=True",
			"status:   listener https attachedRoutes=1 Accepted=True Programmed=False(Invalid",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("validate output lacks %q:\n%s", want, out)
			}
		}
	})
}
