package dataplane_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// A request is routed only among the hosts of the server its SNI selected.
func TestHostSNIBinding(t *testing.T) {
	f := newFooCorp(t)
	g := startGateway(t, f.snap, f.creds)
	c := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient})

	cases := []struct {
		name, host string
		want       int
	}{
		{"own host", frontendHost, http.StatusOK},
		{"own host with port and case", "FrontEnd.FooCorp.com:443", http.StatusOK},
		{"other server's host", inventoryHost, http.StatusMisdirectedRequest},
		{"other server's host with port", inventoryHost + ":443", http.StatusMisdirectedRequest},
		{"other server's host upper case", strings.ToUpper(inventoryHost), http.StatusMisdirectedRequest},
		{"host nobody owns", "unknown.foocorp.com", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, e := get(t, c, "https://"+tc.host+"/")
			if code != tc.want {
				t.Fatalf("Host %q: got %d (backend %q), want %d", tc.host, code, e.Backend, tc.want)
			}
			if code == http.StatusOK && e.Backend != "frontend" {
				t.Fatalf("Host %q reached %q", tc.host, e.Backend)
			}
		})
	}
	// The observer gets the virtual host's name (bounded), never the raw Host.
	for _, want := range []struct {
		vhost string
		code  int
	}{{frontendHost + ":443", 200}, {"", 421}, {"", 404}} {
		if !g.obs.Saw(want.vhost, want.code) {
			t.Errorf("observer did not see vhost %q code %d", want.vhost, want.code)
		}
	}
}

// Servers with identical TLS policy may serve each other's hosts on one connection
// (HTTP/2 connection coalescing across names of one certificate).
func TestHostSNIBindingIdenticalPolicy(t *testing.T) {
	ca := testpki.NewCA(t, "shared ca")
	creds := &fakeCreds{}
	creds.Set(credKey("ns/shared"), testpki.Credential(ca.Server(t, "a.example.com", "b.example.com")))
	a, b := backend(t, "a"), backend(t, "b")
	snap := &snapshot.Snapshot{Version: "v1",
		Listeners: []snapshot.Listener{{Name: "https_443", Port: 443, Protocol: snapshot.HTTPS, Servers: []snapshot.Server{
			tlsServer("gw/a", snapshot.TLSSimple, "ns/shared", []string{"a.example.com"}, vhost("a.example.com", forward("a", "a"))),
			tlsServer("gw/b", snapshot.TLSSimple, "ns/shared", []string{"b.example.com"}, vhost("b.example.com", forward("b", "b"))),
		}}},
		Clusters: []snapshot.Cluster{cluster("a", hostPort(a)), cluster("b", hostPort(b))},
	}
	g := startGateway(t, snap, creds)
	c := g.client(t, clientConfig{SNI: "a.example.com", Roots: ca.Pool})
	if code, e := get(t, c, "https://b.example.com/"); code != http.StatusOK || e.Backend != "b" {
		t.Fatalf("got %d from %q, want 200 from b", code, e.Backend)
	}
}

// SNI selects the server: exact, then longest wildcard, then "*"; no SNI selects "*".
func TestSNISelection(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	creds := &fakeCreds{}
	servers := []struct{ name, host string }{
		{"exact", "a.example.com"},
		{"wild", "*.example.com"},
		{"deepwild", "*.b.example.com"},
		{"star", "*"},
	}
	snap := &snapshot.Snapshot{Version: "v1", Listeners: []snapshot.Listener{{Name: "https_443", Port: 443, Protocol: snapshot.HTTPS}}}
	for _, s := range servers {
		be := backend(t, s.name)
		creds.Set(credKey("ns/"+s.name), testpki.Credential(ca.Server(t, s.name+".cert")))
		snap.Listeners[0].Servers = append(snap.Listeners[0].Servers,
			tlsServer("gw/"+s.name, snapshot.TLSSimple, "ns/"+s.name, []string{s.host}, vhost(s.host, forward(s.name, s.name))))
		snap.Clusters = append(snap.Clusters, cluster(s.name, hostPort(be)))
	}
	g := startGateway(t, snap, creds)

	cases := []struct{ sni, want string }{
		{"a.example.com", "exact"},
		{"x.example.com", "wild"},
		{"x.b.example.com", "deepwild"},
		{"b.example.com", "wild"},
		{"other.org", "star"},
		{"", "star"},
	}
	for _, tc := range cases {
		t.Run("sni "+tc.sni, func(t *testing.T) {
			c := g.client(t, clientConfig{SNI: tc.sni, Insecure: true})
			host := tc.sni
			if host == "" {
				host = "127.0.0.1"
			}
			resp, err := c.Get("https://" + host + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != tc.want+".cert" {
				t.Fatalf("SNI %q got certificate %q, want %q", tc.sni, cn, tc.want+".cert")
			}
		})
	}
}

// Without a matching server the handshake fails with alert unrecognized_name.
func TestUnknownSNI(t *testing.T) {
	f := newFooCorp(t)
	g := startGateway(t, f.snap, f.creds)
	for _, sni := range []string{"unknown.foocorp.com", ""} {
		c := g.client(t, clientConfig{SNI: sni, Insecure: true, Cert: &f.frontClient})
		resp, err := c.Get("https://127.0.0.1/")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("SNI %q: request succeeded, want handshake failure", sni)
		}
		if !strings.Contains(err.Error(), "unrecognized name") {
			t.Fatalf("SNI %q: got %v, want alert unrecognized_name", sni, err)
		}
	}
	waitFor(t, "two unknown_sni failures", func() bool {
		return len(slices.DeleteFunc(g.obs.Failures(), func(r string) bool { return r != "unknown_sni" })) == 2
	})
}
