package e2e

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// h2cCounter is a cleartext HTTP/2-only backend (prior knowledge) that answers each
// request with the client address of its connection and tracks its open connections.
type h2cCounter struct {
	port int
	mu   sync.Mutex
	open map[string]bool
}

func startH2CCounter(t *testing.T) *h2cCounter {
	t.Helper()
	b := &h2cCounter{open: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.port = ln.Addr().(*net.TCPAddr).Port
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "HTTP/2 only", http.StatusHTTPVersionNotSupported)
			return
		}
		fmt.Fprint(w, r.RemoteAddr)
	}), ConnState: func(c net.Conn, s http.ConnState) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch s {
		case http.StateNew:
			b.open[c.RemoteAddr().String()] = true
		case http.StateClosed, http.StateHijacked:
			delete(b.open, c.RemoteAddr().String())
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

func (b *h2cCounter) openConns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.open)
}

// TestH2ClusterConnectionPool: the per-connection settings of connectionPool apply to an
// HTTP/2 cluster (a GRPC port: h2c to the backend) as they do to HTTP/1.1 ones. Before
// (audit of issue 12), HTTP/2 clusters used the gateway's shared h2c transport: every
// request rode one connection whatever maxRequestsPerConnection said, and idle
// connections stayed open for the default 90 s instead of http.idleTimeout.
func TestH2ClusterConnectionPool(t *testing.T) {
	limited, plain := startH2CCounter(t), startH2CCounter(t)
	se := func(name string, port int) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %[1]s, namespace: default}
spec:
  hosts: [%[1]s.internal]
  resolution: STATIC
  ports: [{number: 80, name: grpc, protocol: GRPC, targetPort: %[2]d}]
  endpoints: [{address: 127.0.0.1}]
---
`, name, port)
	}
	config := se("limited", limited.port) + se("plain", plain.port) + `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: limited, namespace: default}
spec:
  host: limited.internal
  trafficPolicy:
    connectionPool:
      tcp: {connectTimeout: 2s}
      http: {maxRequestsPerConnection: 2, idleTimeout: 1s, maxConcurrentStreams: 10, http2KeepAlive: {interval: 10s, timeout: 2s}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: h2pool, namespace: default}
spec:
  hosts: [` + policyHost + `]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /limited}}]
    route: [{destination: {host: limited.internal}}]
  - route: [{destination: {host: plain.internal}}]
`
	e := startPolicyEnv(t, nil, config)
	conns := func(path string, n int) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for range n {
			resp, body := e.mustDo(t, "GET", path, "")
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
			}
			seen[body]++
		}
		return seen
	}

	// maxRequestsPerConnection 2: six sequential requests on three connections, two each.
	seen := conns("/limited", 6)
	if len(seen) != 3 {
		t.Fatalf("6 requests with maxRequestsPerConnection 2 rode %d connections, want 3: %v", len(seen), seen)
	}
	for c, n := range seen {
		if n != 2 {
			t.Fatalf("connection %s carried %d requests, want 2: %v", c, n, seen)
		}
	}
	// idleTimeout 1s: the last connection is closed by the gateway once idle that long
	// (the spent ones at once).
	eventually(t, 5*time.Second, "the HTTP/2 connections closed after idleTimeout", func() error {
		if n := limited.openConns(); n != 0 {
			return fmt.Errorf("%d connections still open", n)
		}
		return nil
	})

	// A cluster without a connection pool policy keeps one multiplexed connection.
	if seen := conns("/other", 6); len(seen) != 1 {
		t.Fatalf("without a pool policy 6 requests rode %d connections, want 1: %v", len(seen), seen)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := plain.openConns(); n != 1 {
		t.Fatalf("without a pool policy %d connections open after 1.5 s idle, want 1 (default idle timeout)", n)
	}
}
