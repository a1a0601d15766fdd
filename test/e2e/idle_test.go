package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// Idle keep-alive connections to the real binary, over HTTP/1.1 and HTTP/2 with the
// walkthrough's client certificates: once idle they hold no goroutine (the gateway's
// go_goroutines does not grow with them), they serve their next request, and the idle
// timeout closes them.
func TestIdleConnections(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("idle connections park in epoll on Linux only")
	}
	e := setupWalkthrough(t, "--idle-timeout", "3s")
	const host = "frontend.foocorp.com"
	cfg := e.clientTLS(t, host)
	addr := "127.0.0.1:" + strconv.Itoa(e.port)
	base := e.goroutines(t)

	const n1, n2 = 40, 10
	h1 := make([]*h1Client, n1)
	for i := range h1 {
		h1[i] = dialH1(t, addr, cfg)
		h1[i].get(t, host)
	}
	h2 := make([]*http.Client, n2)
	for i := range h2 {
		c := cfg.Clone()
		c.NextProtos = []string{"h2"}
		h2[i] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true}}
		h2get(t, h2[i], addr, host)
	}
	t.Cleanup(func() {
		for _, c := range h2 {
			c.CloseIdleConnections()
		}
	})
	var idle int
	eventually(t, 5*time.Second, "idle connections to hold no goroutine", func() error {
		idle = e.goroutines(t)
		if idle > base+5 { // 50 connections waiting on goroutines would be 50 more
			return fmt.Errorf("go_goroutines %d with %d idle connections (%d before them)", idle, n1+n2, base)
		}
		if open, parked := e.metric(t, `portcullis_client_connections{port="443"}`),
			e.metric(t, `portcullis_client_connections_parked{port="443"}`); open != n1+n2 || parked != n1+n2 {
			return fmt.Errorf("%d connections, %d parked; want %d and %d", open, parked, n1+n2, n1+n2)
		}
		return nil
	})
	t.Logf("go_goroutines %d before, %d with %d idle connections", base, idle, n1+n2)

	for _, c := range h1 {
		c.get(t, host) // the same connection, after parking
	}
	for _, c := range h2 {
		h2get(t, c, addr, host)
	}

	// The idle timeout (3 s) closes parked HTTP/1.1 connections.
	start := time.Now()
	for _, c := range h1 {
		_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(c.br); len(b) > 0 || isTimeout(err) {
			t.Fatalf("idle connection not closed by the idle timeout: %q %v", b, err)
		}
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("closed after %v, before the 3 s idle timeout", took)
	}
	eventually(t, 5*time.Second, "every connection to be gone", func() error {
		if n := e.metric(t, `portcullis_client_connections{port="443"}`); n != 0 {
			return fmt.Errorf("%d connections still held", n)
		}
		return nil
	})
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// clientTLS is what curl gets from the walkthrough's files for host, over HTTP/1.1.
func (e *walkthroughEnv) clientTLS(t *testing.T, host string) *tls.Config {
	t.Helper()
	cfg, err := certs.ClientTLS(e.pki, host)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NextProtos = []string{"http/1.1"}
	return cfg
}

// goroutines reads go_goroutines from the gateway's /metrics.
func (e *walkthroughEnv) goroutines(t *testing.T) int { return e.metric(t, "go_goroutines") }

// metric reads one integer-valued series (name and labels as exposed) from /metrics.
func (e *walkthroughEnv) metric(t *testing.T, series string) int {
	t.Helper()
	_, body := httpGet(t, "http://"+e.gw.admin+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /metrics", series)
	return 0
}

type h1Client struct {
	c  *tls.Conn
	br *bufio.Reader
}

func dialH1(t *testing.T, addr string, cfg *tls.Config) *h1Client {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &h1Client{c: c, br: bufio.NewReader(c)}
}

func (c *h1Client) get(t *testing.T, host string) {
	t.Helper()
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.c, "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), frontendBody) || resp.Close {
		t.Fatalf("got %d %q (close %v)", resp.StatusCode, b, resp.Close)
	}
	_ = c.c.SetDeadline(time.Time{})
}

func h2get(t *testing.T, c *http.Client, addr, host string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || !strings.Contains(string(b), frontendBody) {
		t.Fatalf("got %d %s %q", resp.StatusCode, resp.Proto, b)
	}
}
