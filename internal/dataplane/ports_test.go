package dataplane_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// gate is a backend that holds each request until released.
type gate struct {
	srv     *httptest.Server
	arrived chan struct{}
	release chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		select {
		case <-g.release:
			_, _ = io.WriteString(w, "done")
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		g.open()
		g.srv.Close()
	})
	return g
}

func (g *gate) open() {
	select {
	case <-g.release:
	default:
		close(g.release)
	}
}

func (g *gate) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("request never reached the backend")
	}
}

func withPlainPort(s *snapshot.Snapshot, version, clusterName string) *snapshot.Snapshot {
	next := *s
	next.Version = version
	next.Listeners = append(slices.Clone(s.Listeners), snapshot.Listener{Name: "http_80", Port: 80, Protocol: snapshot.HTTP,
		Servers: []snapshot.Server{{Name: "gw/http", Hosts: []string{"*"}, VirtualHosts: []snapshot.VirtualHost{
			{Name: "any:80", Domains: []string{"*"}, Routes: []snapshot.Route{forward("slow", clusterName)}}}}}})
	next.Clusters = append(slices.Clone(s.Clusters), cluster(clusterName))
	return &next
}

// Adding a port opens it without disturbing the others; removing it drains its in-flight
// requests and stops accepting, while the others keep their connections.
func TestUpdatePorts(t *testing.T) {
	f := newFooCorp(t)
	g := startGateway(t, f.snap, f.creds)
	slow := newGate(t)
	front := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient})
	var conns int
	countConns := func(c *http.Client) {
		c.Transport.(*http.Transport).DialContext = countingDial(c.Transport.(*http.Transport).DialContext, &conns)
	}
	countConns(front)
	if code, _ := get(t, front, "https://"+frontendHost+"/"); code != 200 {
		t.Fatalf("got %d", code)
	}
	addr443 := g.dp.Addr(443).String()

	added := withPlainPort(f.snap, "v2", "slow")
	added.Clusters[len(added.Clusters)-1].Endpoints = []string{hostPort(slow.srv)}
	if err := g.dp.Update(added); err != nil {
		t.Fatal(err)
	}
	if got := g.dp.Addr(443).String(); got != addr443 {
		t.Fatalf("port 443 rebound: %s -> %s", addr443, got)
	}
	addr80 := g.dp.Addr(80).String()

	// An in-flight request on port 80 ...
	plain := g.client(t, clientConfig{Port: 80})
	result := make(chan int, 1)
	go func() {
		resp, err := plain.Get("http://any.example.com/")
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	slow.waitArrived(t)

	// ... survives the removal of port 80.
	if err := g.dp.Update(f.snap); err != nil {
		t.Fatal(err)
	}
	if g.dp.Addr(80) != nil {
		t.Fatal("port 80 still listed")
	}
	waitFor(t, "port 80 to stop accepting", func() bool {
		c, err := net.Dial("tcp", addr80)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	slow.open()
	if code := <-result; code != 200 {
		t.Fatalf("in-flight request on the removed port got %d, want 200", code)
	}
	if code, _ := get(t, front, "https://"+frontendHost+"/"); code != 200 {
		t.Fatalf("port 443 got %d", code)
	}
	if conns != 1 {
		t.Fatalf("port 443 client dialed %d connections, want 1 (kept alive across updates)", conns)
	}
}

// A port that cannot be bound is reported; the others serve, and a rejected snapshot
// leaves the previous one in place.
func TestUpdateErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	f := newFooCorp(t)
	g := startGatewayOpts(t, f.snap, f.creds, dataplane.Options{PortMap: map[uint32]string{
		443: "127.0.0.1:0", 80: busy.Addr().String()}})

	err = g.dp.Update(withPlainPort(f.snap, "v2", "empty"))
	if err == nil || !strings.Contains(err.Error(), "port 80") {
		t.Fatalf("Update error %v, want one naming port 80", err)
	}
	if g.dp.Addr(80) != nil || g.dp.Addr(443) == nil {
		t.Fatalf("addresses: 80=%v 443=%v", g.dp.Addr(80), g.dp.Addr(443))
	}
	front := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient})
	if code, _ := get(t, front, "https://"+frontendHost+"/"); code != 200 {
		t.Fatalf("port 443 got %d", code)
	}

	bad := *f.snap
	bad.Version = "bad"
	bad.Listeners = slices.Clone(f.snap.Listeners)
	bad.Listeners[0].Servers = slices.Clone(bad.Listeners[0].Servers)
	bad.Listeners[0].Servers[0].VirtualHosts = []snapshot.VirtualHost{{Name: "x", Domains: []string{frontendHost},
		Routes: []snapshot.Route{{Name: "bad", Match: []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Regex, Value: "("}}},
			Direct: &snapshot.Direct{Status: 500}}}}}
	if err := g.dp.Update(&bad); err == nil {
		t.Fatal("snapshot with an invalid regex was accepted")
	}
	if code, e := get(t, front, "https://"+frontendHost+"/"); code != 200 || e.Backend != "frontend" {
		t.Fatalf("after a rejected snapshot got %d from %q", code, e.Backend)
	}
}
