package e2e

import (
	"fmt"
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

// TestConnectionPoolMaxRetries: connectionPool.http.maxRetries is Envoy's max_retries
// circuit breaker — retries in progress to the cluster. Three requests fail together;
// with maxRetries 1 one retry is made (and held by the backend), the other two are not
// retried: their 503 stands, with response flag UO, counted as a max_retries overflow.
// Once the retry is over the breaker has room again, so the retried request makes its
// second attempt. The backend answers every request 503, holding the first attempts until
// phase 1 ends and the retries until phase 2 ends, so that the order is fixed.
func TestConnectionPoolMaxRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// holding counts the first attempts held (phase 1) and the retries held (phase 2)
	// apart: the first attempts' count passes through 1 while they are released, and a
	// retry reaches the backend only after its back-off.
	var hits atomic.Int32
	var holding [2]atomic.Int32
	phase1, phase2 := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		release, h := phase2, &holding[1]
		if hits.Add(1) <= 3 {
			release, h = phase1, &holding[0]
		}
		h.Add(1)
		select {
		case <-release:
		case <-time.After(15 * time.Second):
		}
		h.Add(-1)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	writeValid(t, dir, "retry.yaml", shopGateway("retry.example.com")+fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: flaky, namespace: shop}
spec:
  hosts: [flaky.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: flaky, namespace: shop}
spec:
  host: flaky.internal
  trafficPolicy:
    connectionPool:
      http: {maxRetries: 1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: retry, namespace: shop}
spec:
  hosts: [retry.example.com]
  gateways: [gw]
  http:
  - retries: {attempts: 2, retryOn: 5xx}
    route: [{destination: {host: flaky.internal}}]
`, ln.Addr().(*net.TCPAddr).Port))
	logPath := filepath.Join(t.TempDir(), "access.log")
	port := freePort(t)
	g := startGateway(t, "--config", dir, "--port-map", "80=127.0.0.1:"+strconv.Itoa(port), "--access-log", logPath)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	t.Cleanup(client.CloseIdleConnections)

	codes := make(chan int, 3)
	var wg sync.WaitGroup
	var once1, once2 sync.Once
	release1, release2 := func() { once1.Do(func() { close(phase1) }) }, func() { once2.Do(func() { close(phase2) }) }
	// On a failure, the requests still held end before the test does (their goroutines
	// report to t).
	t.Cleanup(func() { release1(); release2(); wg.Wait() })
	for range 3 {
		wg.Go(func() {
			code, _, err := hostGet(client, port, "retry.example.com", "/")
			if err != nil {
				t.Error(err)
			}
			codes <- code
		})
	}
	held := func(phase int, n int32, what string) {
		t.Helper()
		eventually(t, 10*time.Second, what, func() error {
			if h := holding[phase].Load(); h != n {
				return fmt.Errorf("backend holds %d (%d requests so far, %d answered)", h, hits.Load(), len(codes))
			}
			return nil
		})
	}
	held(0, 3, "three first attempts at the backend")
	release1() // all three fail with 503 at once
	held(1, 1, "one retry at the backend")
	overflow := `portcullis_upstream_overflow_total{breaker="max_retries",cluster="outbound|80||flaky.internal"} 2`
	eventually(t, 10*time.Second, "two retries refused", func() error {
		if len(codes) != 2 {
			return fmt.Errorf("%d requests answered, backend hits %d, holding %d retries", len(codes), hits.Load(), holding[1].Load())
		}
		if m := scrape(t, g.admin); !strings.Contains(m, overflow) {
			return fmt.Errorf("metrics:\n%s", grepLines(m, "overflow"))
		}
		return nil
	})
	if h := holding[1].Load(); h != 1 || hits.Load() != 4 {
		t.Fatalf("backend holds %d, want the one retry", h)
	}
	release2()
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", c)
		}
	}
	// 3 first attempts, the retry allowed while the others were refused, and the retried
	// request's second retry once the breaker had room.
	if n := hits.Load(); n != 5 {
		t.Fatalf("backend got %d requests, want 5", n)
	}
	uo := 0
	eventually(t, 5*time.Second, "three access log lines", func() error {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		if n := strings.Count(string(b), "\n"); n < 3 {
			return fmt.Errorf("%d lines", n)
		}
		uo = strings.Count(string(b), " 503 UO")
		return nil
	})
	if uo != 2 {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%d access log lines with 503 UO, want 2:\n%s", uo, b)
	}
}
