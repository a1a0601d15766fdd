package feature

import (
	"fmt"
	"strings"
)

// The configuration the tests write: the walkthrough's Gateway and VirtualServices, with
// ServiceEntries pointing at local backends named <name>.backends.svc.cluster.local.

func gatewayYAML(servers ...string) string {
	return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: foocorp-gateway
  namespace: default
spec:
  selector:
    istio: ingressgateway
  servers:
` + strings.Join(servers, "")
}

// serverMutual is a MUTUAL server on 443 using the host's credential Secret.
func serverMutual(name, host string) string {
	return fmt.Sprintf(`  - port: {number: 443, name: %s, protocol: HTTPS}
    tls: {mode: MUTUAL, credentialName: %s}
    hosts: [%q]
`, name, secretName(host), host)
}

// serverFiles is a MUTUAL server on 443 with file-mounted TLS.
func serverFiles(name, host, cert, key, ca string) string {
	return fmt.Sprintf(`  - port: {number: 443, name: %s, protocol: HTTPS}
    tls: {mode: MUTUAL, serverCertificate: %q, privateKey: %q, caCertificates: %q}
    hosts: [%q]
`, name, cert, key, ca, host)
}

// serverHTTP is a plain HTTP server on 8080.
func serverHTTP(name, host string) string {
	return fmt.Sprintf(`  - port: {number: 8080, name: %s, protocol: HTTP}
    hosts: [%q]
`, name, host)
}

// route sends a URI prefix to a backend.
func route(prefix, backend string) string {
	return fmt.Sprintf(`  - match:
    - uri: {prefix: %q}
    route:
    - destination: {host: %s.backends.svc.cluster.local, port: {number: 80}}
`, prefix, backend)
}

func virtualService(name, host string, routes ...string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: %s
  namespace: default
spec:
  hosts: [%q]
  gateways: [foocorp-gateway]
  http:
%s`, name, host, strings.Join(routes, ""))
}

// serviceEntries declares every backend of the environment.
func (e *env) serviceEntries() string {
	var docs []string
	for _, name := range []string{"frontend", "inventory", "inventory-v2", "slow"} {
		port, ok := e.ports[name]
		if !ok {
			continue
		}
		docs = append(docs, fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: %s
  namespace: backends
spec:
  hosts: [%s.backends.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: %d}
  endpoints:
  - address: 127.0.0.1
`, name, name, port))
	}
	return strings.Join(docs, "---\n")
}

// secretName is the walkthrough's credential name of a host.
func secretName(host string) string {
	label, _, _ := strings.Cut(host, ".")
	return label + "-credential"
}
