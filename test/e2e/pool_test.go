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
	"sync/atomic"
	"testing"
	"time"
)

// heldBackend answers "held" once released; it counts the requests it holds at once.
type heldBackend struct {
	port    int
	release chan struct{}
	holding atomic.Int32
	peak    atomic.Int32
	opened  atomic.Int32 // connections accepted
}

func startHeldBackend(t *testing.T, addr string) *heldBackend {
	t.Helper()
	return startHeldBackendProto(t, addr, false)
}

// startHeldBackendProto is startHeldBackend speaking cleartext HTTP/2 (prior knowledge)
// as well when h2c is set.
func startHeldBackendProto(t *testing.T, addr string, h2c bool) *heldBackend {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &heldBackend{port: ln.Addr().(*net.TCPAddr).Port, release: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := b.holding.Add(1)
		for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
		}
		select {
		case <-b.release:
		case <-time.After(10 * time.Second):
		}
		b.holding.Add(-1)
		_, _ = io.WriteString(w, "held")
	}), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.opened.Add(1)
		}
	}}
	if h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return b
}

// TestConnectionPoolOverflow: DestinationRule connectionPool with Envoy's circuit-breaker
// semantics, and portLevelSettings replacing the top-level pool without inheriting it.
// Port 8080 takes the top-level pool (maxConnections 1, http1MaxPendingRequests 1, as
// Istio's circuit-breaking task): of three concurrent requests one is served, one waits
// for the connection, the third gets 503 with response flag UO, logged and counted. Port
// 80 has a port-level pool that sets only http2MaxRequests: the top-level limits do not
// apply there, and three requests reach the backend at once.
func TestConnectionPoolOverflow(t *testing.T) {
	be := startHeldBackend(t, "127.0.0.1:0")
	dir := t.TempDir()
	cfg := shopGateway("pool.example.com") + fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: held, namespace: shop}
spec:
  hosts: [held.internal]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 8080, name: http-alt, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: %[1]d, http-alt: %[1]d}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: held, namespace: shop}
spec:
  host: held.internal
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1, connectTimeout: 2s}
      http: {http1MaxPendingRequests: 1}
    portLevelSettings:
    - port: {number: 80}
      connectionPool:
        http: {http2MaxRequests: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pool, namespace: shop}
spec:
  hosts: [pool.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /strict}}]
    route: [{destination: {host: held.internal, port: {number: 8080}}}]
  - route: [{destination: {host: held.internal, port: {number: 80}}}]
`, be.port)
	g, port, logPath, client := startPoolGateway(t, dir, cfg)
	get := func(path string) (int, string) {
		code, body, err := hostGet(client, port, "pool.example.com", path)
		if err != nil {
			return 0, err.Error()
		}
		return code, body
	}
	waitHolding := func(n int32) { t.Helper(); be.waitHolding(t, n) }

	// Port 8080: the top-level pool.
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	wg.Go(func() { c, _ := get("/strict/1"); codes <- c })
	waitHolding(1)
	wg.Go(func() { c, _ := get("/strict/2"); codes <- c }) // pending: waits for the connection
	waitPending(t, g.admin, "outbound|8080||held.internal")
	if code, body := get("/strict/3"); code != http.StatusServiceUnavailable {
		t.Fatalf("third concurrent request: %d %q, want 503", code, body)
	}
	if be.holding.Load() != 1 {
		t.Fatalf("the backend holds %d requests, want 1 (maxConnections 1)", be.holding.Load())
	}
	close(be.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("held request: %d, want 200", c)
		}
	}
	if p := be.peak.Load(); p != 1 {
		t.Fatalf("the backend held %d requests at once on port 8080, want 1", p)
	}
	checkPendingOverflow(t, g.admin, logPath, "outbound|8080||held.internal", "/strict/3")

	// Port 80: the port-level pool replaced the top level wholesale.
	be.release = make(chan struct{})
	be.peak.Store(0)
	codes = make(chan int, 3)
	for i := range 3 {
		wg.Go(func() { c, _ := get(fmt.Sprintf("/loose/%d", i)); codes <- c })
	}
	waitHolding(3)
	close(be.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("port 80 request: %d, want 200", c)
		}
	}
}

// shopGateway is Gateway shop/gw serving host over plain HTTP on port 80.
func shopGateway(host string) string {
	return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [` + host + `]
---
`
}

// writeValid writes a configuration file into dir and checks that validate accepts dir.
func writeValid(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "validate", "--config", dir); err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
}

// hostGet sends GET path for host to the gateway's plain HTTP port.
func hostGet(c *http.Client, port int, host, path string) (int, string, error) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// scrape returns the gateway's /metrics text.
func scrape(t *testing.T, admin string) string {
	t.Helper()
	_, body := httpGet(t, "http://"+admin+"/metrics")
	return body
}

// TestH2ClusterConnectionOverflow: maxConnections and http1MaxPendingRequests hold for an
// HTTP/2 cluster as Envoy's circuit breakers do. With one connection allowed and
// maxConcurrentStreams 1, the first request takes the connection's only stream, the second
// would need a second connection (counted as a max_connections overflow) and waits as the
// one pending request, the third finds the pending queue full and gets 503 UO. The backend
// sees one connection and one request at a time throughout.
func TestH2ClusterConnectionOverflow(t *testing.T) {
	be := startHeldBackendProto(t, "127.0.0.1:0", true)
	dir := t.TempDir()
	g, port, logPath, client := startPoolGateway(t, dir, shopGateway("h2pool.example.com")+fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: held, namespace: shop}
spec:
  hosts: [held.internal]
  ports: [{number: 80, name: grpc, protocol: GRPC, targetPort: %d}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: held, namespace: shop}
spec:
  host: held.internal
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1, connectTimeout: 2s}
      http: {http1MaxPendingRequests: 1, maxConcurrentStreams: 1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pool, namespace: shop}
spec:
  hosts: [h2pool.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: held.internal}}]
`, be.port))
	get := func(path string) int {
		code, _, err := hostGet(client, port, "h2pool.example.com", path)
		if err != nil {
			return 0
		}
		return code
	}
	const cluster = "outbound|80||held.internal"

	var wg sync.WaitGroup
	codes := make(chan int, 2)
	wg.Go(func() { codes <- get("/1") })
	be.waitHolding(t, 1)
	wg.Go(func() { codes <- get("/2") })
	waitPending(t, g.admin, cluster)
	if code := get("/3"); code != http.StatusServiceUnavailable {
		t.Fatalf("third concurrent request: %d, want 503", code)
	}
	close(be.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("held request: %d, want 200", c)
		}
	}
	if p, o := be.peak.Load(), be.opened.Load(); p != 1 || o != 1 {
		t.Fatalf("the backend held %d requests at once on %d connections, want 1 and 1", p, o)
	}
	checkPendingOverflow(t, g.admin, logPath, cluster, "/3")
}

// waitPending waits until the gateway counted a max_connections overflow of cluster: a
// request is pending for a connection.
func waitPending(t *testing.T, admin, cluster string) {
	t.Helper()
	eventually(t, 10*time.Second, "a request pending", func() error {
		if !strings.Contains(scrape(t, admin), `portcullis_upstream_overflow_total{breaker="max_connections",cluster="`+cluster+`"} 1`) {
			return fmt.Errorf("no max_connections overflow counted yet")
		}
		return nil
	})
}

// checkPendingOverflow checks that cluster counted one max_pending_requests overflow and
// that the request for path was logged 503 with response flag UO.
func checkPendingOverflow(t *testing.T, admin, logPath, cluster, path string) {
	t.Helper()
	if m := scrape(t, admin); !strings.Contains(m, `portcullis_upstream_overflow_total{breaker="max_pending_requests",cluster="`+cluster+`"} 1`) {
		t.Errorf("metrics: no max_pending_requests overflow for the cluster:\n%s", grepLines(m, "overflow"))
	}
	eventually(t, 10*time.Second, "UO in the access log", func() error {
		for _, l := range jsonLines(t, logPath) {
			if l["path"] == path {
				if l["response_code"] != float64(503) || l["response_flags"] != "UO" {
					return fmt.Errorf("access log line %v, want 503 UO", l)
				}
				return nil
			}
		}
		return fmt.Errorf("no line for %s", path)
	})
}

// waitHolding waits until b holds n requests at once.
func (b *heldBackend) waitHolding(t *testing.T, n int32) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("%d requests held by the backend", n), func() error {
		if h := b.holding.Load(); h != n {
			return fmt.Errorf("%d held", h)
		}
		return nil
	})
}

// startPoolGateway writes cfg into dir (validated) and runs the gateway on it with a JSON
// access log, its port 80 on a free loopback port; the client keeps 8 idle connections.
func startPoolGateway(t *testing.T, dir, cfg string) (g *gateway, port int, logPath string, client *http.Client) {
	t.Helper()
	writeValid(t, dir, "pool.yaml", cfg)
	logPath = filepath.Join(t.TempDir(), "access.log")
	port = freePort(t)
	g = startGateway(t, "--config", dir, "--port-map", "80=127.0.0.1:"+strconv.Itoa(port),
		"--access-log", logPath, "--access-log-format", "json")
	client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	return g, port, logPath, client
}
