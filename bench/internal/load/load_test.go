package load

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/pki"
)

// startDirect serves the walkthrough hosts over per-SNI mutual TLS on 127.0.0.1:0.
func startDirect(t *testing.T) (addr, dir string) {
	t.Helper()
	dir = t.TempDir()
	hosts := []string{backend.FrontendHost, backend.InventoryHost}
	for _, h := range hosts {
		if _, err := pki.Host(dir, h); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := backend.DirectTLS(dir, hosts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: backend.Direct(backend.Handler()), TLSConfig: cfg,
		ErrorLog: log.New(io.Discard, "", 0)} // handshakes cut at the end of a run are expected
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), dir
}

func targets(t *testing.T, addr, dir string, hosts ...string) []Target {
	var out []Target
	for _, h := range hosts {
		tc, err := PinnedClientTLS(dir, h)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Target{Addr: addr, Host: h, TLS: tc, Expect: backend.Body(h)})
	}
	return out
}

func TestModes(t *testing.T) {
	addr, dir := startDirect(t)
	both := targets(t, addr, dir, backend.FrontendHost, backend.InventoryHost)
	self := []int{os.Getpid()} // the server runs in this process
	for _, mode := range []string{ModeH1, ModeH2, ModeHandshake} {
		t.Run(mode, func(t *testing.T) {
			res, err := Run(context.Background(), Config{Mode: mode, Targets: both, Conns: 4, Streams: 2,
				Warmup: 50 * time.Millisecond, Duration: 5 * time.Second, MaxRequests: 200, PIDs: self})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests < 200 || len(res.Errors) != 0 {
				t.Fatalf("requests %d errors %v; want >= 200 and none", res.Requests, res.Errors)
			}
			if res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 || res.TargetCPU < 0 {
				t.Fatalf("implausible result %+v", res)
			}
		})
	}
}

// TestMisdirected checks the errors-by-kind report: the frontend client certificate
// asking for Host inventory gets 421 from the direct server.
func TestMisdirected(t *testing.T) {
	addr, dir := startDirect(t)
	tg := targets(t, addr, dir, backend.FrontendHost)
	tg[0].Host = backend.InventoryHost // Host header differs from the SNI in TLS.ServerName
	res, err := Run(context.Background(), Config{Mode: ModeH1, Targets: tg, Conns: 1,
		Duration: 300 * time.Millisecond, Timeout: time.Second, PIDs: []int{os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["status_421"] == 0 {
		t.Fatalf("errors %v; want status_421", res.Errors)
	}
}

func TestHold(t *testing.T) {
	addr, dir := startDirect(t)
	res, err := Run(context.Background(), Config{Mode: ModeHold, Conns: 50,
		Targets: targets(t, addr, dir, backend.FrontendHost, backend.InventoryHost), PIDs: []int{os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Held != 50 || res.RSSAfter <= 0 {
		t.Fatalf("held %d rss %d errors %v; want 50 held", res.Held, res.RSSAfter, res.Errors)
	}
}

func TestPinRejectsOtherCertificate(t *testing.T) {
	addr, dir := startDirect(t)
	tg := targets(t, addr, dir, backend.FrontendHost)
	other, err := PinnedClientTLS(dir, backend.InventoryHost)
	if err != nil {
		t.Fatal(err)
	}
	// Frontend's SNI and client certificate, but inventory's pin.
	tg[0].TLS.VerifyConnection = other.VerifyConnection
	res, err := Run(context.Background(), Config{Mode: ModeHandshake, Targets: tg, Conns: 1,
		Duration: 200 * time.Millisecond, Timeout: time.Second, PIDs: []int{os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Errors["tls_other"] == 0 {
		t.Fatalf("requests %d errors %v; want only TLS failures", res.Requests, res.Errors)
	}
}

// TestOpenLoop: at a fixed rate the generator completes about rate × duration requests
// (not as many as the target could serve), on HTTP/1.1 and HTTP/2, with no errors, and
// reports the per-request counters.
func TestOpenLoop(t *testing.T) {
	addr, dir := startDirect(t)
	both := targets(t, addr, dir, backend.FrontendHost, backend.InventoryHost)
	for _, mode := range []string{ModeH1, ModeH2} {
		t.Run(mode, func(t *testing.T) {
			res, err := Run(context.Background(), Config{Mode: mode, Targets: both, Conns: 4, Streams: 2, Rate: 400,
				Warmup: 100 * time.Millisecond, Duration: time.Second, PIDs: []int{os.Getpid()}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != 0 || res.Requests < 300 || res.Requests > 500 {
				t.Fatalf("requests %d errors %v; want about 400 and none", res.Requests, res.Errors)
			}
			if res.OfferedRate != 400 || res.Latency.P999 < res.Latency.P99 || res.WakeupsPerReq <= 0 {
				t.Fatalf("implausible result %+v", res)
			}
		})
	}
	if _, err := Run(context.Background(), Config{Mode: ModeHandshake, Targets: both, Conns: 1, Rate: 10}); err == nil {
		t.Fatal("rate with handshake mode: want error")
	}
}

// TestTimeline: an open-loop run with a timeline writes one line per measured request, in
// order of intended time, each written no earlier than intended and answered no earlier
// than written, within the measured window.
func TestTimeline(t *testing.T) {
	addr, dir := startDirect(t)
	both := targets(t, addr, dir, backend.FrontendHost, backend.InventoryHost)
	for _, mode := range []string{ModeH1, ModeH2} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "timeline.csv")
			before := time.Now()
			res, err := Run(context.Background(), Config{Mode: mode, Targets: both, Conns: 4, Streams: 2, Rate: 400,
				Warmup: 100 * time.Millisecond, Duration: time.Second, PIDs: []int{os.Getpid()}, Timeline: path})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if lines[0] != "at_unix_ns,sent_us,done_us" || int64(len(lines)-1) != res.Requests {
				t.Fatalf("header %q, %d lines; want the header and %d", lines[0], len(lines)-1, res.Requests)
			}
			var last int64
			for _, l := range lines[1:] {
				var at, sent, done int64
				if _, err := fmt.Sscanf(l, "%d,%d,%d", &at, &sent, &done); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				if at < last || at < before.UnixNano() || at > time.Now().UnixNano() || sent < 0 || done < sent {
					t.Fatalf("line %q after intended %d: out of order or implausible", l, last)
				}
				last = at
			}
		})
	}
}
