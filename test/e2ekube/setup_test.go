package e2ekube

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	frontendHost  = "frontend.foocorp.com"
	inventoryHost = "inventory.foocorp.com"
	frontendPort  = 8080 // backend ports inside the network namespace
	inventoryPort = 8081
)

// createSecretCmd is the walkthrough's command for host's credential (run from the PKI dir).
func createSecretCmd(host string) []string {
	name := strings.SplitN(host, ".", 2)[0] + "-credential"
	return []string{"create", "-n", "istio-system", "secret", "generic", name,
		"--from-file=key=" + host + "/3_application/private/" + host + ".key.pem",
		"--from-file=cert=" + host + "/3_application/certs/" + host + ".cert.pem",
		"--from-file=cacert=" + host + "/2_intermediate/certs/ca-chain.cert.pem"}
}

// backendManifests are the Services and EndpointSlices of the two teams' backends at
// addr in the network namespace. No controller runs, so the EndpointSlices are written by
// hand, as the EndpointSlice controller would (label kubernetes.io/service-name).
func backendManifests(addr string) string {
	var b strings.Builder
	for _, s := range []struct {
		ns, name string
		port     int
	}{{"ux", "frontend", frontendPort}, {"corp-services", "inventory", inventoryPort}} {
		fmt.Fprintf(&b, `apiVersion: v1
kind: Service
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  ports:
  - name: http
    port: 80
    targetPort: %[3]d
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[2]s-e2e
  namespace: %[1]s
  labels:
    kubernetes.io/service-name: %[2]s
addressType: IPv4
endpoints:
- addresses: [%[4]q]
  conditions:
    ready: true
ports:
- name: http
  port: %[3]d
  protocol: TCP
---
`, s.ns, s.name, s.port, addr)
	}
	return b.String()
}

// resetCluster removes what an earlier run of this test left, so that the walkthrough's
// fixed names can be created again. Namespaces are kept: without controllers a deleted
// namespace never finishes terminating, so ux and corp-services are created once and
// reused ("AlreadyExists" is fine).
func (c *cluster) resetCluster(t *testing.T) {
	t.Helper()
	c.mustKubectl(t, "", "", "delete", "-n", "istio-system", "secret", "frontend-credential", "inventory-credential", "--ignore-not-found")
	c.mustKubectl(t, "", "", "delete", "-n", "default", "gateways.networking.istio.io", "foocorp-gateway", "--ignore-not-found")
	c.mustKubectl(t, "", "", "delete", "-n", "default", "virtualservices.networking.istio.io", "frontend", "inventory", "orphan", "--ignore-not-found")
	for _, s := range []struct{ ns, name string }{{"ux", "frontend"}, {"corp-services", "inventory"}} {
		if out, err := c.kubectl(t, "", "", "get", "namespace", s.ns); err != nil {
			if strings.Contains(out, "NotFound") {
				continue
			}
			t.Fatalf("kubectl get namespace %s: %v\n%s", s.ns, err, out)
		}
		c.mustKubectl(t, "", "", "delete", "-n", s.ns, "service", s.name, "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", s.ns, "endpointslices.discovery.k8s.io", s.name+"-e2e", "--ignore-not-found")
	}
}

// createNamespace is `kubectl create namespace NAME`, tolerating AlreadyExists.
func (c *cluster) createNamespace(t *testing.T, name string) {
	t.Helper()
	out, err := c.kubectl(t, "", "", "create", "namespace", name)
	if err != nil && !strings.Contains(out, "AlreadyExists") {
		t.Fatalf("kubectl create namespace %s: %v\n%s", name, err, out)
	}
}

// certSerial returns the serial (hex) of the first certificate in a PEM file or text.
func certSerial(t *testing.T, pemText []byte) string {
	t.Helper()
	for rest := pemText; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			t.Fatalf("no certificate in:\n%s", pemText)
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return cert.SerialNumber.Text(16)
	}
}

func fileSerial(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return certSerial(t, b)
}

// editedVirtualServices is the walkthrough's virtualservices.yaml with the frontend route
// matching exact /v2 instead of /.
func editedVirtualServices(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(repoFile("internal", "demo", "manifests", "virtualservices.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const from = "        exact: /\n"
	i := strings.Index(s, from) // the first VirtualService is the frontend's
	if i < 0 || !strings.Contains(s[:i], "name: frontend") {
		t.Fatalf("virtualservices.yaml changed shape; cannot edit the frontend route:\n%s", s)
	}
	return s[:i] + "        exact: /v2\n" + s[i+len(from):]
}

func manifest(name string) string {
	return filepath.Join(repoFile("internal", "demo", "manifests"), name)
}
