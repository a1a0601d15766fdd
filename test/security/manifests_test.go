package security

import (
	"fmt"
	"sort"
	"strings"
)

// gatewayYAML: the walkthrough's two MUTUAL servers plus a SIMPLE and an
// OPTIONAL_MUTUAL server, each with its own credential (and CA), all on port 443.
const gatewayYAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: foocorp-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-frontend, protocol: HTTPS}
    tls: {mode: MUTUAL, credentialName: frontend-credential}
    hosts: [frontend.foocorp.com]
  - port: {number: 443, name: https-inventory, protocol: HTTPS}
    tls: {mode: MUTUAL, credentialName: inventory-credential}
    hosts: [inventory.foocorp.com]
  - port: {number: 443, name: https-public, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: public-credential}
    hosts: [public.foocorp.com]
  - port: {number: 443, name: https-partner, protocol: HTTPS}
    tls: {mode: OPTIONAL_MUTUAL, credentialName: partner-credential}
    hosts: [partner.foocorp.com]
`

// virtualServicesYAML: frontend has an exact "/" route, an "/api/" prefix route and a
// blocked "/internal/" prefix (directResponse 403), each tagging the request with the
// route that matched (x-route); the other hosts send everything to their backend.
var virtualServicesYAML = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontend, namespace: default}
spec:
  hosts: [frontend.foocorp.com]
  gateways: [foocorp-gateway]
  http:
  - name: blocked
    match: [{uri: {prefix: /internal/}}, {uri: {exact: /internal}}]
    directResponse: {status: 403, body: {string: blocked}}
  - name: root
    match: [{uri: {exact: /}}]
    route: [{destination: {host: frontend.backends.svc.cluster.local, port: {number: 80}}}]
    headers: {request: {set: {x-route: root}}}
  - name: api
    match: [{uri: {prefix: /api/}}]
    route: [{destination: {host: frontend.backends.svc.cluster.local, port: {number: 80}}}]
    headers: {request: {set: {x-route: api}}}
` + catchAll("inventory", inv) + catchAll("public", pub) + catchAll("partner", opt)

func catchAll(name, host string) string {
	return fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s]
  gateways: [foocorp-gateway]
  http:
  - route: [{destination: {host: %s.backends.svc.cluster.local, port: {number: 80}}}]
`, name, host, name)
}

// serviceEntries declares each echo backend as <name>.backends.svc.cluster.local.
func serviceEntries(ports map[string]int) string {
	names := make([]string, 0, len(ports))
	for n := range ports {
		names = append(names, n)
	}
	sort.Strings(names)
	var docs []string
	for _, n := range names {
		docs = append(docs, fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: backends}
spec:
  hosts: [%s.backends.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %d}]
  endpoints: [{address: 127.0.0.1}]
`, n, n, ports[n]))
	}
	return strings.Join(docs, "---\n")
}
