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

// bindIstio is Istio Gateways "two" and "three", port 80 bound to 127.0.0.2 and 127.0.0.3,
// each with a VirtualService answering "served by <name>" for www.example.com.
func bindIstio() string {
	var docs []string
	for name, addr := range map[string]string{"two": "127.0.0.2", "three": "127.0.0.3"} {
		docs = append(docs, fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: %[1]s, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    bind: %[2]s
    hosts: [www.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: via-%[1]s, namespace: istio-system}
spec:
  hosts: [www.example.com]
  gateways: [%[1]s]
  http:
  - directResponse: {status: 200, body: {string: "served by %[1]s"}}
`, name, addr))
	}
	return strings.Join(docs, "---\n")
}

// bindGatewayAPI is two Gateway API Gateways, blue and green, on port 8080 without
// hostnames (as the conformance suite's), each with a route to its own Service: with
// --gateway-address-pool each binds an address of its own.
func bindGatewayAPI() string {
	docs := []string{"apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: portcullis}\nspec: {controllerName: portcullis.io/gateway-controller}\n"}
	for _, name := range []string{"blue", "green"} {
		docs = append(docs, fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: %[1]s, namespace: apps}
spec:
  gatewayClassName: portcullis
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %[1]s, namespace: apps}
spec: {parentRefs: [{name: %[1]s}], rules: [{backendRefs: [{name: %[1]s, port: 80}]}]}
`, name))
	}
	return strings.Join(docs, "---\n")
}

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
	dir := configDir(t, map[string]string{"bind.yaml": bindIstio()})
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
		"gw.yaml":       bindGatewayAPI(),
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
	dir := configDir(t, map[string]string{"bind.yaml": strings.Replace(bindIstio(), "bind: 127.0.0.3", "bind: unix:///run/gw.sock", 1)})
	out, err := run(t, "validate", "--config", dir)
	if exitCode(err) != 1 || !strings.Contains(out, `spec.servers[0].bind: bind "unix:///run/gw.sock" is a unix domain socket`) {
		t.Fatalf("validate: exit %d\n%s", exitCode(err), out)
	}
	if strings.Contains(out, "127.0.0.2") {
		t.Errorf("the IP bind is reported:\n%s", out)
	}
}
