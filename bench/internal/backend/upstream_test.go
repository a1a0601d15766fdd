package backend

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/portcullis/portcullis/bench/internal/pki"
)

// The TLS upstream closes a connection after its Nth request and counts a returning
// client's handshake as resumed.
func TestServeTLSRawResumesAndCloses(t *testing.T) {
	dir := t.TempDir()
	const host = "upstream.test"
	p, err := pki.Host(dir, host)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	st := &Stats{}
	addr := serve(t, func(ctx context.Context, ln net.Listener) error {
		return ServeTLSRaw(ctx, ln, &tls.Config{Certificates: []tls.Certificate{cert}}, 2, st)
	})
	chain, err := os.ReadFile(p.Chain)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(chain)
	cfg := &tls.Config{RootCAs: roots, ServerName: host, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	for conn, wantResumed := range []bool{false, true} {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for i := 1; i <= 2; i++ {
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", FrontendHost)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("connection %d request %d: %v", conn, i, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != FrontendBody {
				t.Fatalf("connection %d request %d: body %q, %v", conn, i, body, err)
			}
			if got := resp.Close; got != (i == 2) {
				t.Errorf("connection %d request %d: close = %v", conn, i, got)
			}
		}
		if b, err := br.ReadByte(); err == nil {
			t.Errorf("connection %d still open after its limit (read %q)", conn, b)
		}
		if got := c.ConnectionState().DidResume; got != wantResumed {
			t.Errorf("connection %d: resumed = %v, want %v", conn, got, wantResumed)
		}
		c.Close()
	}
	if got := st.Snapshot(true); got != (Counts{HandshakesFull: 1, HandshakesResumed: 1, Requests: 4}) {
		t.Errorf("counts = %+v", got)
	}
	if got := st.Snapshot(false); got != (Counts{}) {
		t.Errorf("after reset: %+v", got)
	}
}

// The gRPC upstream answers the health Check over h2c and counts the call.
func TestServeGRPC(t *testing.T) {
	st := &Stats{}
	addr := serve(t, func(ctx context.Context, ln net.Listener) error { return ServeGRPC(ctx, ln, st) })
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	resp := new(healthpb.HealthCheckResponse)
	if err := cc.Invoke(cctx, GRPCMethod, &healthpb.HealthCheckRequest{}, resp); err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status %v", resp.GetStatus())
	}
	if got := st.Snapshot(false).GRPCCalls; got != 1 {
		t.Errorf("calls = %d, want 1", got)
	}
}

// serve runs fn on a loopback listener until the test ends (checking its error) and
// returns the listener's address.
func serve(t *testing.T, fn func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}
