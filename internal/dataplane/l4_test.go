package dataplane_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// l4Observer is observer plus the dataplane.StreamObserver counts.
type l4Observer struct {
	observer
	mu      sync.Mutex
	refused map[string]int
	opened  map[string]int
	closed  map[string]int
}

type l4Counter struct {
	o   *l4Observer
	key string
}

func (c l4Counter) Opened()        { c.o.bump(c.o.opened, c.key) }
func (c l4Counter) Closed()        { c.o.bump(c.o.closed, c.key) }
func (c l4Counter) Received(int64) {}
func (c l4Counter) Sent(int64)     {}

func (o *l4Observer) bump(m map[string]int, k string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m[k]++
}

func (o *l4Observer) get(m map[string]int, k string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return m[k]
}

func (o *l4Observer) ForStream(route, destination string) interface {
	Opened()
	Closed()
	Received(int64)
	Sent(int64)
} {
	return l4Counter{o: o, key: route + " " + destination}
}

func (o *l4Observer) StreamRefused(reason string) { o.bump(o.refused, reason) }

// echoTCP answers every line with "<name>:<line>".
func echoTCP(t *testing.T, name string) string {
	t.Helper()
	return echoLines(t, name, false)
}

// echoLines is echoTCP; with hello it first reads one TLS record (a ClientHello passed
// through) and does not answer it.
func echoLines(t *testing.T, name string, hello bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				if hello {
					hdr := make([]byte, 5)
					if _, err := io.ReadFull(r, hdr); err != nil {
						return
					}
					if _, err := r.Discard(int(hdr[3])<<8 | int(hdr[4])); err != nil {
						return
					}
				}
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "%s:%s", name, l)
				}
			})
		}
	})
	return ln.Addr().String()
}

func tcpSnapshot(dests []snapshot.L4Destination, clusters ...snapshot.Cluster) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Version: "l4",
		Listeners: []snapshot.Listener{{Name: "tcp_9443", Port: 9443, Protocol: snapshot.TCP, Servers: []snapshot.Server{{
			Name: "gw/tcp", Hosts: []string{"*"}, TCP: true, VirtualHosts: []snapshot.VirtualHost{},
			TCPRoutes: []snapshot.L4Route{{Name: "ns/vs/tcp/0", Destinations: dests}},
		}}}},
		Clusters: clusters,
	}
}

func dialLine(t *testing.T, addr, line string) (net.Conn, string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return c, "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return c, got, err
}

func TestL4MaxConnectionsAndRefusals(t *testing.T) {
	up := echoTCP(t, "up")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens: connect fails
	obs := &l4Observer{refused: map[string]int{}, opened: map[string]int{}, closed: map[string]int{}}
	snap := tcpSnapshot([]snapshot.L4Destination{{Cluster: "up", Weight: 100, ConnectTimeoutMillis: 1000, MaxConnections: 2}},
		snapshot.Cluster{Name: "up", Endpoints: []string{up}})
	g := startGatewayObs(t, snap, nil, dataplane.Options{}, obs)
	addr := g.dp.Addr(9443).String()

	var held []net.Conn
	for i := range 2 {
		c, got, err := dialLine(t, addr, fmt.Sprint(i))
		if err != nil || got != fmt.Sprintf("up:%d\n", i) {
			t.Fatalf("stream %d: %q %v", i, got, err)
		}
		held = append(held, c)
	}
	// The third concurrent stream exceeds maxConnections: closed, counted.
	c, got, err := dialLine(t, addr, "third")
	c.Close()
	if err == nil {
		t.Fatalf("third stream answered %q", got)
	}
	if n := obs.get(obs.refused, "max_connections"); n != 1 {
		t.Fatalf("max_connections refusals %d", n)
	}
	// Closing one frees its slot.
	held[0].Close()
	waitFor(t, "slot released", func() bool { return obs.get(obs.closed, "ns/vs/tcp/0 up") == 1 })
	c, got, err = dialLine(t, addr, "again")
	if err != nil || got != "up:again\n" {
		t.Fatalf("after release: %q %v", got, err)
	}
	c.Close()
	held[1].Close()

	// Connect failure and no endpoints are refusals with their reasons.
	for _, tc := range []struct {
		cluster snapshot.Cluster
		reason  string
	}{
		{snapshot.Cluster{Name: "dead", Endpoints: []string{deadAddr}}, "connect_failed"},
		{snapshot.Cluster{Name: "empty", Endpoints: []string{}}, "no_endpoints"},
	} {
		s := tcpSnapshot([]snapshot.L4Destination{{Cluster: tc.cluster.Name, Weight: 100, ConnectTimeoutMillis: 1000}}, tc.cluster)
		s.Version = tc.reason
		if err := g.dp.Update(s); err != nil {
			t.Fatal(err)
		}
		c, got, err := dialLine(t, addr, "x")
		c.Close()
		if err == nil {
			t.Fatalf("%s: answered %q", tc.reason, got)
		}
		waitFor(t, tc.reason, func() bool { return obs.get(obs.refused, tc.reason) == 1 })
	}
	// A failed rule (no destinations) closes connections.
	s := tcpSnapshot([]snapshot.L4Destination{})
	s.Version = "failed"
	if err := g.dp.Update(s); err != nil {
		t.Fatal(err)
	}
	c, _, err = dialLine(t, addr, "x")
	c.Close()
	if err == nil {
		t.Fatal("failed rule answered")
	}
	waitFor(t, "no_route", func() bool { return obs.get(obs.refused, "no_route") == 1 })
}

func TestL4PortRemovalDrainsStreams(t *testing.T) {
	up := echoTCP(t, "up")
	snap := tcpSnapshot([]snapshot.L4Destination{{Cluster: "up", Weight: 100, ConnectTimeoutMillis: 1000}},
		snapshot.Cluster{Name: "up", Endpoints: []string{up}})
	opts := dataplane.Options{}
	opts.DrainTimeout = 300 * time.Millisecond
	g := startGatewayOpts(t, snap, nil, opts)
	c, got, err := dialLine(t, g.dp.Addr(9443).String(), "hi")
	if err != nil || got != "up:hi\n" {
		t.Fatalf("%q %v", got, err)
	}
	defer c.Close()
	if err := g.dp.Update(&snapshot.Snapshot{Version: "none", Listeners: []snapshot.Listener{}, Clusters: []snapshot.Cluster{}}); err != nil {
		t.Fatal(err)
	}
	// The stream is closed once the drain timeout passes.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("stream survived the removal of its port")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("stream not closed after the drain timeout")
	}
}
