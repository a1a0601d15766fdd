package dataplane_test

import (
	"crypto/tls"
	"net/http"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// anyNameCache offers the last session it got to every server name, as a hostile or
// buggy client could (Go's own cache is keyed by server name).
type anyNameCache struct {
	mu      sync.Mutex
	last    *tls.ClientSessionState
	offered int
}

func (c *anyNameCache) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return nil, false
	}
	c.offered++
	return c.last, true
}

func (c *anyNameCache) Put(_ string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs != nil {
		c.last = cs
	}
}

func (c *anyNameCache) Offered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offered
}

// ticketGateway: servers a and b, MUTUAL, client CAs caA and caB (which may be the same),
// session tickets on for TLS 1.3 as well (the most resumption there can be).
func ticketGateway(t *testing.T, caA, caB *testpki.CA) (*gateway, *fakeCreds) {
	return ticketGatewayOpts(t, caA, caB, dataplane.Options{TLS13SessionTickets: true})
}

func ticketGatewayOpts(t *testing.T, caA, caB *testpki.CA, opts dataplane.Options) (*gateway, *fakeCreds) {
	t.Helper()
	creds := &fakeCreds{}
	creds.Set(credKey("ns/a"), testpki.Credential(caA.Server(t, "a.example.com"), caA))
	creds.Set(credKey("ns/b"), testpki.Credential(caB.Server(t, "b.example.com"), caB))
	be := backend(t, "be")
	snap := &snapshot.Snapshot{Version: "v1",
		Listeners: []snapshot.Listener{{Name: "https_443", Port: 443, Protocol: snapshot.HTTPS, Servers: []snapshot.Server{
			tlsServer("gw/a", snapshot.TLSMutual, "ns/a", []string{"a.example.com"}, vhost("a.example.com", forward("a", "be"))),
			tlsServer("gw/b", snapshot.TLSMutual, "ns/b", []string{"b.example.com"}, vhost("b.example.com", forward("b", "be"))),
		}}},
		Clusters: []snapshot.Cluster{cluster("be", hostPort(be))},
	}
	return startGatewayOpts(t, snap, creds, opts), creds
}

// do makes one request on a fresh connection; it returns whether the session resumed,
// or err when the handshake (or request) failed.
func do(t *testing.T, g *gateway, cc clientConfig, host string) (resumed bool, err error) {
	t.Helper()
	cc.NoKeepAlive, cc.Insecure = true, true
	resp, err := g.client(t, cc).Get("https://" + host + "/")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return resp.TLS.DidResume, nil
}

// A session ticket issued for one host never resumes on another, so resumption cannot
// skip the other host's client-certificate check.
func TestSessionTicketsAreBoundToTheServer(t *testing.T) {
	for _, v := range []struct {
		name string
		max  uint16
	}{{"tls1.2", tls.VersionTLS12}, {"tls1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			t.Run("different client CAs", func(t *testing.T) {
				caA, caB := testpki.NewCA(t, "a"), testpki.NewCA(t, "b")
				g, _ := ticketGateway(t, caA, caB)
				certA := caA.Client(t, "client-a")
				cache := &anyNameCache{}
				cc := clientConfig{SNI: "a.example.com", Cert: &certA, Cache: cache, MaxVersion: v.max}
				mustResume(t, g, cc, "a.example.com")

				cc.SNI = "b.example.com"
				offered := cache.Offered()
				if _, err := do(t, g, cc, "b.example.com"); err == nil {
					t.Fatal("a's ticket and a's client certificate were accepted by b")
				}
				if cache.Offered() == offered {
					t.Fatal("the client did not offer a's ticket to b; the test proves nothing")
				}
			})
			t.Run("same client CA", func(t *testing.T) {
				ca := testpki.NewCA(t, "shared")
				g, _ := ticketGateway(t, ca, ca)
				cert := ca.Client(t, "client")
				cache := &anyNameCache{}
				cc := clientConfig{SNI: "a.example.com", Cert: &cert, Cache: cache, MaxVersion: v.max}
				mustResume(t, g, cc, "a.example.com")

				cc.SNI = "b.example.com"
				resumed, err := do(t, g, cc, "b.example.com")
				if err != nil {
					t.Fatal(err)
				}
				if resumed {
					t.Fatal("a's session resumed on b")
				}
			})
		})
	}
}

// After a CA change old tickets no longer resume: the client is verified against the new
// CA in a full handshake, and rejected when the new CA does not trust it.
func TestSessionTicketsAfterCAChange(t *testing.T) {
	for _, v := range []struct {
		name string
		max  uint16
	}{{"tls1.2", tls.VersionTLS12}, {"tls1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			caA, caB, caX := testpki.NewCA(t, "a"), testpki.NewCA(t, "b"), testpki.NewCA(t, "x")
			g, creds := ticketGateway(t, caA, caB)
			certA := caA.Client(t, "client-a")
			serverA := caA.Server(t, "a.example.com")
			cc := clientConfig{SNI: "a.example.com", Cert: &certA, Cache: &anyNameCache{}, MaxVersion: v.max}
			creds.Set(credKey("ns/a"), testpki.Credential(serverA, caA))
			g.dp.CredentialsChanged()
			mustResume(t, g, cc, "a.example.com")

			// The CA bundle grows: the client is still trusted, but verified afresh.
			creds.Set(credKey("ns/a"), testpki.Credential(serverA, caA, caX))
			g.dp.CredentialsChanged()
			resumed, err := do(t, g, cc, "a.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if resumed {
				t.Fatal("a session from before the CA change resumed")
			}
			mustResume(t, g, cc, "a.example.com")

			// The old CA is dropped: the client's session and certificate are both refused.
			creds.Set(credKey("ns/a"), testpki.Credential(serverA, caX))
			g.dp.CredentialsChanged()
			if _, err := do(t, g, cc, "a.example.com"); err == nil {
				t.Fatal("client of a removed CA was accepted")
			}
		})
	}
}

// mustResume makes two requests and requires the second to resume (positive control:
// tickets work at all, so a non-resumption elsewhere means something).
func mustResume(t *testing.T, g *gateway, cc clientConfig, host string) {
	t.Helper()
	if _, err := do(t, g, cc, host); err != nil {
		t.Fatal(err)
	}
	resumed, err := do(t, g, cc, host)
	if err != nil {
		t.Fatal(err)
	}
	if !resumed {
		t.Fatalf("second connection to %s did not resume", host)
	}
}

// By default TLS 1.3 connections get no session tickets (crypto/tls would advertise them
// as valid for 7 days, see listener.Tickets.TLS13) while TLS 1.2 ones do.
func TestTLS13TicketsOffByDefault(t *testing.T) {
	ca := testpki.NewCA(t, "a")
	g, _ := ticketGatewayOpts(t, ca, ca, dataplane.Options{})
	cert := ca.Client(t, "client")
	for _, v := range []struct {
		name   string
		max    uint16
		resume bool
	}{{"tls1.2", tls.VersionTLS12, true}, {"tls1.3", tls.VersionTLS13, false}, {"any", 0, false}} {
		t.Run(v.name, func(t *testing.T) {
			cache := &anyNameCache{}
			cc := clientConfig{SNI: "a.example.com", Cert: &cert, Cache: cache, MaxVersion: v.max}
			for i := range 2 {
				resumed, err := do(t, g, cc, "a.example.com")
				if err != nil {
					t.Fatal(err)
				}
				if resumed != (v.resume && i == 1) {
					t.Fatalf("connection %d: resumed=%v", i+1, resumed)
				}
			}
			if !v.resume && cache.Offered() != 0 {
				t.Fatalf("the client got a ticket to offer (%d offers)", cache.Offered())
			}
		})
	}
}
