package dataplane_test

import (
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// hostPort of a test server ("127.0.0.1:NNNN").
func hostPort(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

func cluster(name string, endpoints ...string) snapshot.Cluster {
	return snapshot.Cluster{Name: name, Host: name, Port: 80, Endpoints: endpoints}
}

func forward(name, cluster string) snapshot.Route {
	return snapshot.Route{Name: name, Forward: &snapshot.Forward{
		Clusters: []snapshot.WeightedCluster{{Cluster: cluster, Weight: 100}}}}
}

func vhost(domain string, routes ...snapshot.Route) snapshot.VirtualHost {
	return snapshot.VirtualHost{Name: domain + ":443", Domains: []string{domain}, Routes: routes}
}

func tlsServer(name string, mode snapshot.TLSMode, secret string, hosts []string, vhs ...snapshot.VirtualHost) snapshot.Server {
	return snapshot.Server{Name: name, Hosts: hosts, VirtualHosts: vhs, TLS: &snapshot.TLS{
		Mode:       mode,
		Credential: snapshot.CredentialRef{Secret: secret, NeedCA: mode != snapshot.TLSSimple},
	}}
}

func credKey(secret string) string { return snapshot.CredentialRef{Secret: secret}.Key() }

// fooCorp is the walkthrough: frontend and inventory, each with its own PKI, MUTUAL TLS
// on port 443, exact "/" routes to their backends.
type fooCorp struct {
	frontCA, invCA         *testpki.CA
	frontClient, invClient tls.Certificate
	creds                  *fakeCreds
	frontend, inventory    *httptest.Server
	snap                   *snapshot.Snapshot
}

const (
	frontendHost  = "frontend.foocorp.com"
	inventoryHost = "inventory.foocorp.com"
	frontendCred  = "istio-system/frontend-credential"
	inventoryCred = "istio-system/inventory-credential"
)

func newFooCorp(t testing.TB) *fooCorp {
	t.Helper()
	f := &fooCorp{
		frontCA:   testpki.NewCA(t, "frontend ca"),
		invCA:     testpki.NewCA(t, "inventory ca"),
		creds:     &fakeCreds{},
		frontend:  backend(t, "frontend"),
		inventory: backend(t, "inventory"),
	}
	f.frontClient = f.frontCA.Issue(t, testpki.Leaf{CN: frontendHost, DNS: []string{frontendHost},
		URIs: []string{"spiffe://foocorp.com/ns/ux/sa/client"}, Client: true})
	f.invClient = f.invCA.Client(t, inventoryHost, inventoryHost)
	f.creds.Set(credKey(frontendCred), testpki.Credential(f.frontCA.Server(t, frontendHost), f.frontCA))
	f.creds.Set(credKey(inventoryCred), testpki.Credential(f.invCA.Server(t, inventoryHost), f.invCA))
	f.snap = &snapshot.Snapshot{
		Version: "v1",
		Listeners: []snapshot.Listener{{Name: "https_443", Port: 443, Protocol: snapshot.HTTPS, Servers: []snapshot.Server{
			tlsServer("default/foocorp-gateway/https-frontend", snapshot.TLSMutual, frontendCred, []string{frontendHost},
				vhost(frontendHost, forward("default/frontend/0", "outbound|80||frontend.ux.svc.cluster.local"))),
			tlsServer("default/foocorp-gateway/https-inventory", snapshot.TLSMutual, inventoryCred, []string{inventoryHost},
				vhost(inventoryHost, forward("default/inventory/0", "outbound|80||inventory.corp-services.svc.cluster.local"))),
		}}},
		Clusters: []snapshot.Cluster{
			cluster("outbound|80||frontend.ux.svc.cluster.local", hostPort(f.frontend)),
			cluster("outbound|80||inventory.corp-services.svc.cluster.local", hostPort(f.inventory)),
		},
	}
	return f
}

func (f *fooCorp) frontendClient(t testing.TB, g *gateway) clientConfig {
	return clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient}
}
