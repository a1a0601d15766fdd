//go:build linux

package dataplane_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/testkit"
)

// Accepting in the event loop (Options.L4Accept, design 0036): a port whose servers are
// all PASSTHROUGH is accepted by the loop, which reads the ClientHello.

// clientHello is the first record crypto/tls sends for sni.
func clientHello(t *testing.T, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		_ = tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
		a.Close()
	}()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// passSnapshot: port 8443 passes TLS through, SNI name -> cluster of the same name.
func passSnapshot(version string, clusters ...snapshot.Cluster) *snapshot.Snapshot {
	srv := snapshot.Server{Name: "gw/pass", Passthrough: true, VirtualHosts: []snapshot.VirtualHost{}}
	for _, c := range clusters {
		srv.Hosts = append(srv.Hosts, c.Name)
		srv.TLSRoutes = append(srv.TLSRoutes, snapshot.L4Route{Name: "ns/vs/tls/" + c.Name,
			Match:        []snapshot.L4Match{{SNIHosts: []string{c.Name}}},
			Destinations: []snapshot.L4Destination{{Cluster: c.Name, Weight: 100, ConnectTimeoutMillis: 1000}}})
	}
	return &snapshot.Snapshot{
		Version:   version,
		Listeners: []snapshot.Listener{{Name: "https_8443", Port: 8443, Protocol: snapshot.HTTPS, Servers: []snapshot.Server{srv}}},
		Clusters:  clusters,
	}
}

// passStream dials addr, sends hello in parts (a pause between them: a segment each)
// and one line, and returns the connection and the reply.
func passStream(addr string, hello []byte, parts int, line string) (*net.TCPConn, string, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, "", err
	}
	c := nc.(*net.TCPConn)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for i := range parts {
		if _, err := c.Write(hello[i*len(hello)/parts : (i+1)*len(hello)/parts]); err != nil {
			return c, "", err
		}
		if i < parts-1 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return c, "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return c, got, err
}

func TestL4AcceptInLoop(t *testing.T) {
	a, c := echoLines(t, "a", true), echoLines(t, "c", true)
	web := backend(t, "web")
	ca := testpki.NewCA(t, "ca")
	creds := &fakeCreds{}
	creds.Set(credKey("ns/web"), testpki.Credential(ca.Server(t, "h.example"), ca))
	fds := testkit.OwnDescriptors(t)
	obs := &l4Observer{refused: map[string]int{}, opened: map[string]int{}, closed: map[string]int{}}
	opts := dataplane.Options{L4Accept: true, ReadHeaderTimeout: 300 * time.Millisecond, DrainTimeout: 300 * time.Millisecond}
	g := startGatewayObs(t, passSnapshot("1", snapshot.Cluster{Name: "a.example", Endpoints: []string{a}}), creds, opts, obs)
	addr := g.dp.Addr(8443).String()
	helloA, helloB, helloC := clientHello(t, "a.example"), clientHello(t, "b.example"), clientHello(t, "c.example")

	t.Run("many at once", func(t *testing.T) {
		const n = 64
		errs := make(chan error, n)
		for i := range n {
			go func() {
				c, got, err := passStream(addr, helloA, 1, fmt.Sprint(i))
				c.Close()
				if err == nil && got != fmt.Sprintf("a:%d\n", i) {
					err = fmt.Errorf("reply %q", got)
				}
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "streams counted", func() bool { return obs.get(obs.closed, "ns/vs/tls/a.example a.example") == n })
	})
	t.Run("hello over segments", func(t *testing.T) {
		c, got, err := passStream(addr, helloA, 3, "split")
		c.Close()
		if err != nil || got != "a:split\n" {
			t.Fatalf("%q %v", got, err)
		}
	})
	t.Run("unknown SNI refused", func(t *testing.T) {
		c, got, err := passStream(addr, helloB, 1, "x")
		c.Close()
		if err == nil {
			t.Fatalf("answered %q", got)
		}
		waitFor(t, "unknown_sni counted", func() bool { return slices.Contains(obs.Failures(), "unknown_sni") })
	})
	t.Run("unfinished hello closed at the timeout", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		_, _ = c.Write(helloA[:20])
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 1))
		took := time.Since(start)
		if n != 0 || err == nil {
			t.Fatalf("read %d, %v", n, err)
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("not closed")
		}
		if took < 300*time.Millisecond || took > 2*time.Second {
			t.Fatalf("closed after %v, timeout 300ms", took)
		}
	})
	t.Run("route change while streams run", func(t *testing.T) {
		running, got, err := passStream(addr, helloA, 1, "before")
		if err != nil || got != "a:before\n" {
			t.Fatalf("%q %v", got, err)
		}
		defer running.Close()
		if err := g.dp.Update(passSnapshot("2", snapshot.Cluster{Name: "a.example", Endpoints: []string{a}},
			snapshot.Cluster{Name: "c.example", Endpoints: []string{c}})); err != nil {
			t.Fatal(err)
		}
		cc, got, err := passStream(addr, helloC, 1, "new")
		cc.Close()
		if err != nil || got != "c:new\n" {
			t.Fatalf("the new route: %q %v", got, err)
		}
		if _, err := io.WriteString(running, "after\n"); err != nil {
			t.Fatal(err)
		}
		if got, err := bufio.NewReader(running).ReadString('\n'); err != nil || got != "a:after\n" {
			t.Fatalf("the running stream after the change: %q %v", got, err)
		}
	})
	t.Run("a terminated server added", func(t *testing.T) {
		// The port stays with the loop; a hello for the new server continues on the Go
		// path (handshake, HTTP), passthrough on the loop's.
		snap := passSnapshot("3", snapshot.Cluster{Name: "a.example", Endpoints: []string{a}})
		snap.Listeners[0].Servers = append(snap.Listeners[0].Servers, tlsServer("gw/web", snapshot.TLSSimple, "ns/web",
			[]string{"h.example"}, vhost("h.example", forward("ns/web/0", "web"))))
		snap.Clusters = append(snap.Clusters, cluster("web", hostPort(web)))
		if err := g.dp.Update(snap); err != nil {
			t.Fatal(err)
		}
		code, e := get(t, g.client(t, clientConfig{Port: 8443, SNI: "h.example", Roots: ca.Pool}), "https://h.example/x")
		if code != 200 || e.Backend != "web" {
			t.Fatalf("terminated: %d %+v", code, e)
		}
		c, got, err := passStream(addr, helloA, 1, "still")
		c.Close()
		if err != nil || got != "a:still\n" {
			t.Fatalf("passthrough: %q %v", got, err)
		}
	})
	t.Run("shutdown ends streams and accepting", func(t *testing.T) {
		running, got, err := passStream(addr, helloA, 1, "x")
		if err != nil || got != "a:x\n" {
			t.Fatalf("%q %v", got, err)
		}
		defer running.Close()
		// The stream outlives the drain timeout: Run reports the drain incomplete.
		if err := g.stop(); err == nil || !strings.Contains(err.Error(), "drain") {
			t.Fatalf("Run: %v, want the drain cut short", err)
		}
		_ = running.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := running.Read(make([]byte, 1)); err == nil {
			t.Fatal("stream survived shutdown")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("stream not closed after the drain timeout")
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatal("still accepting after shutdown")
		}
	})
	// No descriptor left once the loop lingered out (goroutines: TestMain's goleak).
	waitFor(t, "descriptors released", func() bool { return testkit.OwnDescriptors(t) <= fds })
}
