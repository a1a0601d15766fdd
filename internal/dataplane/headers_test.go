package dataplane_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
)

const spoofedXFCC = `Hash=deadbeef;Subject="CN=admin";URI=spiffe://evil/admin`

// X-Forwarded-Client-Cert carries only the certificate the gateway verified.
func TestXFCC(t *testing.T) {
	f := newFooCorp(t)
	// inventory becomes OPTIONAL_MUTUAL to cover the no-certificate case.
	f.snap.Listeners[0].Servers[1].TLS.Mode = snapshot.TLSOptionalMutual
	g := startGateway(t, f.snap, f.creds)

	sum := sha256.Sum256(f.frontClient.Leaf.Raw)
	wantFront := "Hash=" + hex.EncodeToString(sum[:]) +
		`;Subject="CN=frontend.foocorp.com,O=FooCorp";URI=spiffe://foocorp.com/ns/ux/sa/client;DNS=frontend.foocorp.com`
	cases := []struct {
		name string
		cfg  clientConfig
		host string
		want []string
	}{
		{"verified client cert", clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient}, frontendHost, []string{wantFront}},
		{"optional mutual without cert", clientConfig{SNI: inventoryHost, Roots: f.invCA.Pool}, inventoryHost, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := g.client(t, tc.cfg)
			code, e := get(t, c, "https://"+tc.host+"/", "X-Forwarded-Client-Cert", spoofedXFCC)
			if code != http.StatusOK {
				t.Fatalf("got %d", code)
			}
			if diff := cmp.Diff(tc.want, e.Header.Values("X-Forwarded-Client-Cert")); diff != "" {
				t.Fatalf("XFCC at backend (-want +got):\n%s", diff)
			}
		})
	}
}

// X-Forwarded-For/Proto/Host are set by the gateway; client-supplied values are dropped.
// Route header operations apply to requests and responses.
func TestForwardedHeaders(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	creds := &fakeCreds{}
	creds.Set(credKey("ns/www"), testpki.Credential(ca.Server(t, "www.example.com")))
	be := backend(t, "be")
	rt := forward("r", "be")
	rt.Forward.RequestHeaders = &snapshot.HeaderOps{Set: map[string]string{"X-Env": "prod"},
		Add: map[string]string{"X-Added": "1"}, Remove: []string{"X-Secret"}}
	rt.Forward.ResponseHeaders = &snapshot.HeaderOps{Set: map[string]string{"X-Served-By": "portcullis"}}
	snap := &snapshot.Snapshot{Version: "v1",
		Listeners: []snapshot.Listener{{Name: "https_443", Port: 443, Protocol: snapshot.HTTPS, Servers: []snapshot.Server{
			tlsServer("gw/www", snapshot.TLSSimple, "ns/www", []string{"www.example.com"}, vhost("www.example.com", rt)),
		}}},
		Clusters: []snapshot.Cluster{cluster("be", hostPort(be))},
	}
	g := startGateway(t, snap, creds)
	c := g.client(t, clientConfig{SNI: "www.example.com", Roots: ca.Pool})
	req, _ := http.NewRequest(http.MethodGet, "https://www.example.com/", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Client-Cert", spoofedXFCC)
	req.Header.Set("X-Secret", "s3cret")
	req.Header.Set("X-Env", "dev")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e echo
	decodeJSON(t, resp, &e)
	got := map[string][]string{}
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Client-Cert", "X-Secret", "X-Env", "X-Added"} {
		got[k] = e.Header.Values(k)
	}
	want := map[string][]string{
		"X-Forwarded-For":         {"127.0.0.1"},
		"X-Forwarded-Proto":       {"https"},
		"X-Forwarded-Host":        {"www.example.com"},
		"X-Forwarded-Client-Cert": nil,
		"X-Secret":                nil,
		"X-Env":                   {"prod"},
		"X-Added":                 {"1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("headers at backend (-want +got):\n%s", diff)
	}
	if v := resp.Header.Get("X-Served-By"); v != "portcullis" {
		t.Fatalf("response header X-Served-By = %q", v)
	}
}
