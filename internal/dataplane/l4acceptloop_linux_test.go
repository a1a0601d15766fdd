//go:build linux

package dataplane_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/dataplane/internal/testnet"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/testkit"
)

// Streams of loop-accepted connections carried by the loop (design 0036, step 2b: the
// connect and copy in the loop, no goroutine per connection): refusals counted and
// slots released on a refused connect and a connect timeout, maxConnections,
// maxConnectionDuration, a bulk stream, and nothing left behind.

func TestL4AcceptLoopStreams(t *testing.T) {
	refusing := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)) // nothing listens
	one, bulk := echoLines(t, "one", true), testnet.Echo(t)
	slow := testnet.FullQueue(t)
	fds := testkit.OwnDescriptors(t)
	snap := passSnapshot("1",
		snapshot.Cluster{Name: "refuse.example", Endpoints: []string{refusing}},
		snapshot.Cluster{Name: "slow.example", Endpoints: []string{slow}},
		snapshot.Cluster{Name: "slowlong.example", Endpoints: []string{slow}},
		snapshot.Cluster{Name: "one.example", Endpoints: []string{one}},
		snapshot.Cluster{Name: "bulk.example", Endpoints: []string{bulk}},
		snapshot.Cluster{Name: "short.example", Endpoints: []string{one},
			Pool: &snapshot.ConnectionPool{MaxConnectionDurationMillis: 200}},
	)
	for i := range snap.Listeners[0].Servers[0].TLSRoutes {
		d := &snap.Listeners[0].Servers[0].TLSRoutes[i].Destinations[0]
		d.MaxConnections = 1
		if d.Cluster == "slow.example" {
			d.ConnectTimeoutMillis = 100
		}
		if d.Cluster == "slowlong.example" {
			d.ConnectTimeoutMillis = 10_000
		}
		if d.Cluster == "bulk.example" {
			d.MaxConnections = 0
		}
	}
	obs := &l4Observer{refused: map[string]int{}, opened: map[string]int{}, closed: map[string]int{}}
	opts := dataplane.Options{L4Accept: true, ReadHeaderTimeout: time.Second, DrainTimeout: 300 * time.Millisecond}
	g := startGatewayObs(t, snap, &fakeCreds{}, opts, obs)
	addr := g.dp.Addr(8443).String()
	refused := func(reason string) int { return obs.get(obs.refused, reason) }

	for _, tc := range []struct{ name, sni string }{{"connect refused", "refuse.example"}, {"connect timeout", "slow.example"}} {
		t.Run(tc.name, func(t *testing.T) {
			hello := clientHello(t, tc.sni)
			before, maxBefore := refused("connect_failed"), refused("max_connections")
			// Twice with maxConnections 1: the first refusal released its slot.
			for i := range 2 {
				start := time.Now()
				c, got, err := passStream(addr, hello, 1, "x")
				c.Close()
				if err == nil {
					t.Fatalf("answered %q", got)
				}
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("not closed")
				}
				if took := time.Since(start); tc.sni == "slow.example" && (took < 100*time.Millisecond || took > 2*time.Second) {
					t.Fatalf("closed after %v, connect timeout 100ms", took)
				}
				if n := refused("connect_failed"); n != before+i+1 {
					t.Fatalf("connect_failed counted %d, want %d", n, before+i+1)
				}
			}
			if refused("max_connections") != maxBefore {
				t.Fatal("a failed connect kept its maxConnections slot")
			}
		})
	}
	t.Run("max connections", func(t *testing.T) {
		hello := clientHello(t, "one.example")
		first, got, err := passStream(addr, hello, 1, "1")
		if err != nil || got != "one:1\n" {
			t.Fatalf("%q %v", got, err)
		}
		before := refused("max_connections")
		c, got, err := passStream(addr, hello, 1, "2")
		c.Close()
		if err == nil {
			t.Fatalf("second stream answered %q", got)
		}
		if refused("max_connections") != before+1 {
			t.Fatal("max_connections not counted")
		}
		closedBefore := obs.get(obs.closed, "ns/vs/tls/one.example one.example")
		first.Close()
		waitFor(t, "the first stream closed", func() bool {
			return obs.get(obs.closed, "ns/vs/tls/one.example one.example") == closedBefore+1
		})
		c, got, err = passStream(addr, hello, 1, "3")
		c.Close()
		if err != nil || got != "one:3\n" {
			t.Fatalf("after the slot was released: %q %v", got, err)
		}
	})
	t.Run("max connection duration", func(t *testing.T) {
		c, got, err := passStream(addr, clientHello(t, "short.example"), 1, "x")
		if err != nil || got != "one:x\n" {
			t.Fatalf("%q %v", got, err)
		}
		defer c.Close()
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read data")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("not closed at maxConnectionDuration")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("closed %v later, maxConnectionDuration 200ms", took)
		}
	})
	t.Run("bulk", func(t *testing.T) {
		hello := clientHello(t, "bulk.example")
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		want := append(hello, bytes.Repeat([]byte("0123456789abcdef"), 1<<19)...) // 8 MiB
		go func() {
			_, _ = c.Write(want)
			_ = c.(*net.TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("echo of %d bytes: %d back (equal %v), %v", len(want), len(got), bytes.Equal(got, want), err)
		}
		waitFor(t, "the bulk stream closed", func() bool {
			return obs.get(obs.closed, "ns/vs/tls/bulk.example bulk.example") == 1
		})
	})
	t.Run("shutdown ends a connecting stream", func(t *testing.T) {
		// The connect would wait 10 s: the drain's end (300 ms) closes the stream through
		// the loop, not counted as a failed connect.
		before := refused("connect_failed")
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(clientHello(t, "slowlong.example")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		_ = g.stop()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read data")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("not closed at shutdown")
		}
		if refused("connect_failed") != before {
			t.Fatal("a stream closed while connecting counted as a failed connect")
		}
	})
	// No descriptor left once the loop lingered out (goroutines: TestMain's goleak).
	waitFor(t, "descriptors released", func() bool { return testkit.OwnDescriptors(t) <= fds })
	if o, c := obs.get(obs.opened, "ns/vs/tls/one.example one.example"), obs.get(obs.closed, "ns/vs/tls/one.example one.example"); o != c {
		t.Fatalf("one.example: %d opened, %d closed", o, c)
	}
}
