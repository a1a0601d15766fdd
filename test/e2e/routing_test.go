package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoBackends are real HTTP servers on loopback, each answering "<name> <path>" with the
// request headers it saw reflected as X-Seen-<Name>, and counting its requests.
type echoBackends struct {
	mu     sync.Mutex
	counts map[string]int
	ports  map[string]int
}

func startEchoBackends(t *testing.T, names ...string) *echoBackends {
	t.Helper()
	b := &echoBackends{counts: map[string]int{}, ports: map[string]int{}}
	for _, name := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.mu.Lock()
			b.counts[name]++
			b.mu.Unlock()
			for k, v := range r.Header {
				if strings.HasPrefix(k, "X-") {
					w.Header().Set("X-Seen-"+k[2:], strings.Join(v, ","))
				}
			}
			fmt.Fprintf(w, "%s %s", name, r.URL.RequestURI())
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		b.ports[name] = ln.Addr().(*net.TCPAddr).Port
	}
	return b
}

func (b *echoBackends) count(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.counts[name]
}

// serviceEntry declares host on port 80 with one loopback endpoint on the backend's port.
func (b *echoBackends) serviceEntry(name, host string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: shop}
spec:
  hosts: [%s]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]
---
`, name, host, b.ports[name])
}

const routingGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*/r.example.com"]
---
`

// routingVSHead starts the VirtualService bound to routingGateway; rules follow.
const routingVSHead = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: shop}
spec:
  hosts: [r.example.com]
  gateways: [istio-system/gw]
  http:
`

// The reproductions, as Istio answers them: each rule answers its own requests,
// never the catch-all.
const routingVS = routingVSHead + `  - name: admin
    match: [{uri: {prefix: /admin}, withoutHeaders: {x-internal: {exact: "yes"}}}]
    directResponse: {status: 403, body: {string: "admin denied"}}
    headers: {response: {set: {x-denied-by: gateway}}}
  - name: debug
    match: [{headers: {x-debug: {}}}]
    directResponse: {status: 403, body: {string: "debug denied"}}
  - name: to-https
    match: [{scheme: {exact: http}, uri: {prefix: /login}}]
    redirect: {scheme: https}
  - name: aborted
    match: [{uri: {prefix: /fault}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: main.internal}}]
  - name: slow-ok
    match: [{uri: {prefix: /timeout}}]
    timeout: 500ms
    route: [{destination: {host: main.internal}}]
  - name: regex
    match: [{uri: {prefix: /service/}}]
    rewrite: {uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: '\2/instance/\1'}}
    route: [{destination: {host: main.internal}}]
  - name: canary
    match: [{uri: {prefix: /canary}, statPrefix: canary-split}]
    route:
    - destination: {host: main.internal}
      weight: 99
    - destination: {host: canary.internal}
      weight: 1
      headers: {request: {set: {x-canary: "1"}}}
  - name: other
    match: [{uri: {prefix: /other}}]
    route:
    - destination: {host: main.internal}
      weight: 50
    - destination: {host: canary.internal}
      weight: 50
  - name: query
    match: [{queryParams: {trace: {}}}]
    directResponse: {status: 202}
  - name: secure
    match: [{uri: {prefix: /secure}}]
    route: [{destination: {host: secure.internal}}]
  - name: delegated
    match: [{uri: {prefix: /team}}]
    delegate: {name: team, namespace: shop}
  - name: catch-all
    route: [{destination: {host: main.internal}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure, namespace: shop}
spec:
  host: secure.internal
  trafficPolicy: {tunnel: {protocol: CONNECT, targetHost: t.internal, targetPort: 8443}, connectionPool: {tcp: {connectTimeout: 30ms}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: team, namespace: shop}
spec:
  http:
  - name: v2
    match: [{uri: {prefix: /team/v2}}]
    route: [{destination: {host: canary.internal}}]
`

func TestRoutingIstioSemantics(t *testing.T) {
	be := startEchoBackends(t, "main", "canary")
	dir := t.TempDir()
	cfg := routingGateway + be.serviceEntry("main", "main.internal") + be.serviceEntry("canary", "canary.internal") +
		strings.Replace(be.serviceEntry("main", "secure.internal"), "name: main", "name: secure", 1) + routingVS
	if err := os.WriteFile(filepath.Join(dir, "routing.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// validate: exit 1 for the DestinationRule's traffic policy (below); the fault rule
	// is served as written and the 500ms timeout is accepted.
	out, err := run(t, "validate", "--config", dir)
	if exitCode(err) != 1 || strings.Contains(out, "spec.http[3].fault") {
		t.Errorf("validate: exit %d, want 1 and nothing about spec.http[3].fault:\n%s", exitCode(err), out)
	}
	if strings.Contains(out, "spec.http[4].timeout") {
		t.Errorf("validate reports the 500ms timeout:\n%s", out)
	}
	// The DestinationRule decodes (30ms is a duration) but its traffic policy is rejected,
	// naming the field.
	if !strings.Contains(out, "spec.trafficPolicy") || strings.Contains(out, "invalid duration") {
		t.Errorf("validate: want the DestinationRule's spec.trafficPolicy rejected, no duration error:\n%s", out)
	}

	port := freePort(t)
	g := startGateway(t, "--config", dir, "--port-map", "80=127.0.0.1:"+strconv.Itoa(port))
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(path string, hdr ...string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "r.example.com"
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header
	}

	cases := []struct {
		name, path string
		hdr        []string
		code       int
		body       string // substring
		location   string
	}{
		{"withoutHeaders: header absent → 403", "/admin", nil, 403, "admin denied", ""},
		{"withoutHeaders: other value → 403", "/admin", []string{"X-Internal", "no"}, 403, "admin denied", ""},
		{"withoutHeaders: excluded value → catch-all", "/admin", []string{"X-Internal", "yes"}, 200, "main /admin", ""},
		{"header presence → 403", "/x", []string{"X-Debug", ""}, 403, "debug denied", ""},
		{"scheme http → redirect", "/login?next=/a", nil, 301, "", "https://r.example.com/login?next=/a"},
		{"fault abort answers, not the catch-all", "/fault", nil, 418, "fault filter abort", ""},
		{"timeout 500ms accepted", "/timeout", nil, 200, "main /timeout", ""},
		{"uriRegexRewrite", "/service/foo/v1/api?q=1", nil, 200, "main /v1/api/instance/foo?q=1", ""},
		{"DestinationRule traffic policy fails its routes closed", "/secure", nil, 500, "DestinationRule shop/secure spec.trafficPolicy", ""},
		{"query presence", "/q?trace", nil, 202, "", ""},
		{"delegated child rule", "/team/v2/x", nil, 200, "canary /team/v2/x", ""},
		{"delegating rule's other requests fall through as in Istio", "/team/v1", nil, 200, "main /team/v1", ""},
		{"catch-all", "/", nil, 200, "main /", ""},
	}
	for _, tc := range cases {
		code, body, h := get(tc.path, tc.hdr...)
		if code != tc.code || !strings.Contains(body, tc.body) || h.Get("Location") != tc.location {
			t.Errorf("%s: GET %s %v = %d %q (Location %q), want %d %q (Location %q)", tc.name, tc.path, tc.hdr, code, body, h.Get("Location"), tc.code, tc.body, tc.location)
		}
	}

	if _, _, h := get("/admin"); h.Get("X-Denied-By") != "gateway" {
		t.Errorf("directResponse: response header op not applied: %v", h)
	}

	// Weights: the 99/1 canary holds 1 % ± 0.5 % of 10,000 requests while a 50/50 route
	// on the same gateway takes alternating traffic (the reproduction: with one
	// shared counter the canary got nothing).
	c0, m0 := be.count("canary"), be.count("main")
	canaryHeaderSeen := 0
	for i := range 10000 {
		_, body, h := get("/canary")
		if strings.HasPrefix(body, "canary") && h.Get("X-Seen-Canary") == "1" {
			canaryHeaderSeen++
		}
		if i%2 == 0 {
			get("/other")
		}
	}
	canary := be.count("canary") - c0 - 5000/2 // the 50/50 route sent half of its 5,000
	main := be.count("main") - m0 - 5000/2
	if canary < 50 || canary > 150 || canary+main != 10000 {
		t.Errorf("99/1 split: canary %d, main %d of 10000 (want canary 100 ± 50)", canary, main)
	}
	if canaryHeaderSeen != canary {
		t.Errorf("per-destination header reached %d of %d canary requests", canaryHeaderSeen, canary)
	}

	// statPrefix: the route's requests are recorded under route/<statPrefix>.
	_, metrics := httpGet(t, "http://"+g.admin+"/metrics")
	if !strings.Contains(metrics, `route/canary-split`) {
		t.Errorf("no series for statPrefix canary-split in /metrics")
	}
}

// TestRoutingDurationsAccepted: Go-style durations are accepted in every Duration field,
// as Istio decodes them (they used to reject the whole object).
func TestRoutingDurationsAccepted(t *testing.T) {
	dir := t.TempDir()
	cfg := routingGateway + routingVSHead + `  - timeout: 1h30m
    route: [{destination: {host: main.internal}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: main, namespace: shop}
spec:
  hosts: [main.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`
	if err := os.WriteFile(filepath.Join(dir, "d.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "validate", "--config", dir); err != nil {
		t.Errorf("validate with timeout 1h30m: %v\n%s", err, out)
	}
}

// TestRoutingSchemeOverTLS: one VirtualService on an HTTP and an HTTPS server. The
// http→https redirect rule (scheme match) answers plain HTTP only; over real TLS (curl
// with the server's CA) the same path reaches the backend.
func TestRoutingSchemeOverTLS(t *testing.T) {
	be := startEchoBackends(t, "main")
	dir := t.TempDir()
	pki, cfgDir := filepath.Join(dir, "pki"), filepath.Join(dir, "cfg")
	if out, err := run(t, "certs", "--dir", pki, "--host", "r.example.com", "--secrets-out", cfgDir); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	cfg := `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*/r.example.com"]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*/r.example.com"]
    tls: {mode: SIMPLE, credentialName: r-credential}
---
` + be.serviceEntry("main", "main.internal") + routingVSHead + `  - name: to-https
    match: [{scheme: {exact: http}}]
    redirect: {scheme: https}
  - name: served
    match: [{scheme: {exact: https}}]
    route: [{destination: {host: main.internal}}]
`
	if err := os.WriteFile(filepath.Join(cfgDir, "routing.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	httpPort, httpsPort := freePort(t), freePort(t)
	startGateway(t, "--config", cfgDir, "--port-map", "80=127.0.0.1:"+strconv.Itoa(httpPort),
		"--port-map", "443=127.0.0.1:"+strconv.Itoa(httpsPort))
	hp := strconv.Itoa(httpsPort)
	out, errOut, code := sh(t, pki, "curl", "-sS", "-i", "--resolve", "r.example.com:"+hp+":127.0.0.1",
		"--cacert", "r.example.com/2_intermediate/certs/ca-chain.cert.pem", "https://r.example.com:"+hp+"/login")
	if code != 0 || !strings.Contains(out, "200") || !strings.Contains(out, "main /login") {
		t.Errorf("https: curl exit %d, %s\n%s", code, errOut, out)
	}
	out, errOut, code = sh(t, pki, "curl", "-sS", "-i", "-HHost: r.example.com", "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/login")
	if code != 0 || !strings.Contains(out, "301") || !strings.Contains(out, "Location: https://r.example.com/login") {
		t.Errorf("http: curl exit %d, %s\n%s", code, errOut, out)
	}
}
