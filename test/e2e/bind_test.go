package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Server.bind and per-Gateway addresses (design 0026): one Gateway port on several
// loopback addresses, each its own listener with its own routes for the same host.

const bindIstio = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: two, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    bind: 127.0.0.2
    hosts: [www.example.com]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: three, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    bind: 127.0.0.3
    hosts: [www.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: via-two, namespace: istio-system}
spec:
  hosts: [www.example.com]
  gateways: [two]
  http:
  - directResponse: {status: 200, body: {string: "served by two"}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: via-three, namespace: istio-system}
spec:
  hosts: [www.example.com]
  gateways: [three]
  http:
  - directResponse: {status: 200, body: {string: "served by three"}}
`

// Two Gateway API Gateways on port 80 without hostnames (as the conformance suite's):
// with --gateway-address-pool each binds an address of its own.
const bindGatewayAPI = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portcullis}
spec: {controllerName: portcullis.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: blue, namespace: apps}
spec:
  gatewayClassName: portcullis
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: green, namespace: apps}
spec:
  gatewayClassName: portcullis
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: blue, namespace: apps}
spec:
  parentRefs: [{name: blue}]
  rules: [{backendRefs: [{name: blue, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: green, namespace: apps}
spec:
  parentRefs: [{name: green}]
  rules: [{backendRefs: [{name: green, port: 80}]}]
`

func configDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeConfig(t, dir, name, content)
	}
	return dir
}

// bindCurl GETs http://www.example.com:port/ with the name resolved to addr.
func bindCurl(t *testing.T, addr, port string) (string, int) {
	t.Helper()
	out, _, code := sh(t, "", "curl", "-sS", "--max-time", "5", "--resolve", "www.example.com:"+port+":"+addr, "http://www.example.com:"+port+"/")
	return out, code
}

func TestServerBind(t *testing.T) {
	port := itoa(freePort(t))
	dir := configDir(t, map[string]string{"bind.yaml": bindIstio})
	startGateway(t, "--config", dir, "--port-map", "80=127.0.0.1:"+port)
	for addr, want := range map[string]string{"127.0.0.2": "served by two", "127.0.0.3": "served by three"} {
		if out, code := bindCurl(t, addr, port); code != 0 || out != want {
			t.Errorf("%s:%s: %q (curl exit %d), want %q", addr, port, out, code, want)
		}
	}
	// No server without bind: nothing listens on the port-map address itself.
	if out, code := bindCurl(t, "127.0.0.1", port); code == 0 {
		t.Errorf("127.0.0.1:%s answered %q; only the bound addresses listen", port, out)
	}
}

func TestGatewayAddressPool(t *testing.T) {
	blue, _ := backend(t, "backend blue")
	green, _ := backend(t, "backend green")
	dir := configDir(t, map[string]string{
		"gw.yaml":       bindGatewayAPI,
		"services.yaml": gwapiService("apps", "blue", blue) + "---\n" + gwapiService("apps", "green", green),
	})
	port := itoa(freePort(t))
	g := startGateway(t, "--config", dir, "--namespace", "apps", "--gateway-address-pool", "127.0.0.8/29",
		"--port-map", "8080=127.0.0.1:"+port)
	var dump struct {
		GatewayAPIStatus []struct {
			Kind, Name string
			Status     struct {
				Addresses []struct{ Value string }
			}
		} `json:"gatewayAPIStatus"`
	}
	addrs := map[string]string{}
	eventually(t, 10*time.Second, "Gateway addresses in /config_dump", func() error {
		resp, err := http.Get("http://" + g.admin + "/config_dump")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&dump); err != nil {
			return err
		}
		for _, u := range dump.GatewayAPIStatus {
			if u.Kind == "Gateway" && len(u.Status.Addresses) == 1 {
				addrs[u.Name] = u.Status.Addresses[0].Value
			}
		}
		if len(addrs) != 2 || addrs["blue"] == addrs["green"] {
			return fmt.Errorf("addresses %v", addrs)
		}
		return nil
	})
	for name, addr := range addrs {
		if !strings.HasPrefix(addr, "127.0.0.") || addr == "127.0.0.8" || addr == "127.0.0.15" {
			t.Errorf("Gateway %s: address %s is not a usable address of 127.0.0.8/29", name, addr)
		}
		out, code := bindCurl(t, addr, port)
		if code != 0 || !strings.Contains(out, "backend "+name) {
			t.Errorf("Gateway %s at %s:%s: %q (curl exit %d), want its own backend", name, addr, port, out, code)
		}
	}
}

func TestValidateBind(t *testing.T) {
	dir := configDir(t, map[string]string{"bind.yaml": strings.Replace(bindIstio, "bind: 127.0.0.3", "bind: unix:///run/gw.sock", 1)})
	out, err := run(t, "validate", "--config", dir)
	if exitCode(err) != 1 || !strings.Contains(out, `spec.servers[0].bind: bind "unix:///run/gw.sock" is a unix domain socket`) {
		t.Fatalf("validate: exit %d\n%s", exitCode(err), out)
	}
	if strings.Contains(out, "127.0.0.2") {
		t.Errorf("the IP bind is reported:\n%s", out)
	}
}
