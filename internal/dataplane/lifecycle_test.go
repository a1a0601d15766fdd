package dataplane_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane"
)

// Run may start before the first snapshot (as under the app's errgroup): the dataplane is
// not ready until the first Update, and refuses updates once stopped.
func TestRunBeforeUpdate(t *testing.T) {
	f := newFooCorp(t)
	dp := dataplane.New(dataplane.Options{PortMap: map[uint32]string{443: "127.0.0.1:0"}}, f.creds, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dp.Run(ctx) }()
	if dp.Ready() || dp.Addr(443) != nil {
		t.Fatal("ready before any snapshot")
	}
	if err := dp.Update(f.snap); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", dp.Ready)
	g := &gateway{dp: dp}
	c := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient})
	if code, _ := get(t, c, "https://"+frontendHost+"/"); code != 200 {
		t.Fatalf("got %d", code)
	}
	c.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := dp.Update(f.snap); err == nil {
		t.Fatal("Update after Run returned was accepted")
	}
}

// Plain HTTP sent to a TLS port gets a 400 and counts as a protocol handshake failure.
func TestPlainHTTPOnTLSPort(t *testing.T) {
	f := newFooCorp(t)
	g := startGateway(t, f.snap, f.creds)
	conn, err := net.Dial("tcp", g.dp.Addr(443).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+frontendHost+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("got %d, want 400", resp.StatusCode)
	}
	waitFor(t, "protocol failure", func() bool { return slices.Contains(g.obs.Failures(), "protocol") })
}
