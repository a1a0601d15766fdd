package dataplane_test

import (
	"net"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane"
)

// Cancelling Run stops accepting at once, lets in-flight requests finish, and returns nil.
func TestGracefulDrain(t *testing.T) {
	f := newFooCorp(t)
	slow := newGate(t)
	f.snap.Clusters[0].Endpoints = []string{hostPort(slow.srv)}
	g := startGateway(t, f.snap, f.creds)
	addr := g.dp.Addr(443).String()
	c := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient})

	result := make(chan int, 1)
	go func() {
		resp, err := c.Get("https://" + frontendHost + "/")
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	slow.waitArrived(t)

	stopped := make(chan error, 1)
	go func() { stopped <- g.stop() }()
	waitFor(t, "listener to close", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	default:
	}
	slow.open()
	if code := <-result; code != 200 {
		t.Fatalf("in-flight request got %d, want 200", code)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if g.dp.Ready() {
		t.Fatal("still ready after shutdown")
	}
}

// A request outliving DrainTimeout is cut off and Run reports the incomplete drain.
func TestDrainTimeout(t *testing.T) {
	f := newFooCorp(t)
	slow := newGate(t)
	f.snap.Clusters[0].Endpoints = []string{hostPort(slow.srv)}
	g := startGatewayOpts(t, f.snap, f.creds, dataplane.Options{
		PortMap:      map[uint32]string{443: "127.0.0.1:0"},
		DrainTimeout: 100 * time.Millisecond,
	})
	c := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient})
	done := make(chan error, 1)
	go func() {
		resp, err := c.Get("https://" + frontendHost + "/")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	slow.waitArrived(t)
	if err := g.stop(); err == nil {
		t.Fatal("Run returned nil although a request outlived the drain")
	}
	if err := <-done; err == nil {
		t.Fatal("request cut off by shutdown succeeded")
	}
}
