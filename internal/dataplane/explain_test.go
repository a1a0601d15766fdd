package dataplane_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/explain"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestExplainAgreesWithServing asks Explain about requests of every outcome, then sends
// them to the running dataplane: the status (or the failed handshake) must be the one
// explained. The offline ExplainSnapshot must give the live Explain's decision.
func TestExplainAgreesWithServing(t *testing.T) {
	f := newFooCorp(t)
	vh := &f.snap.Listeners[0].Servers[0].VirtualHosts[0]
	exact := func(p string) []snapshot.Match {
		return []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Exact, Value: p}}}
	}
	f.snap.Clusters = append(f.snap.Clusters, cluster("outbound|80||empty.svc"))
	vh.Routes = []snapshot.Route{
		{Name: "default/frontend/old", Match: exact("/old"), Redirect: &snapshot.Redirect{URI: "/new", Code: 302}},
		{Name: "default/frontend/teapot", Match: exact("/teapot"), Direct: &snapshot.Direct{Status: 418, Body: "short and stout"}},
		{Name: "default/frontend/broken", Match: exact("/broken"), Fail: &snapshot.Fail{Status: 500, Body: "rule not served\n", Flag: snapshot.FailFlag}},
		forward("default/frontend/empty", "outbound|80||empty.svc"),
		forward("default/frontend/root", "outbound|80||frontend.ux.svc.cluster.local"),
	}
	vh.Routes[3].Match = exact("/empty")
	vh.Routes[4].Match = exact("/") // no catch-all: /nope is a 404
	g := startGateway(t, f.snap, f.creds)

	for _, c := range []struct {
		name, sni, host, path string
		cert                  *tls.Certificate
		outcome               string
		status                int
	}{
		{"forward", frontendHost, frontendHost, "/", &f.frontClient, explain.OutcomeForward, 0},
		{"404", frontendHost, frontendHost, "/nope", &f.frontClient, explain.OutcomeResponse, 404},
		{"redirect", frontendHost, frontendHost, "/old", &f.frontClient, explain.OutcomeResponse, 302},
		{"direct", frontendHost, frontendHost, "/teapot", &f.frontClient, explain.OutcomeResponse, 418},
		{"fail closed", frontendHost, frontendHost, "/broken", &f.frontClient, explain.OutcomeResponse, 500},
		{"503", frontendHost, frontendHost, "/empty", &f.frontClient, explain.OutcomeResponse, 503},
		{"421", frontendHost, inventoryHost, "/", &f.frontClient, explain.OutcomeResponse, 421},
		{"no cert", inventoryHost, inventoryHost, "/", nil, explain.OutcomeHandshake, 0},
		{"wrong cert", inventoryHost, inventoryHost, "/", &f.frontClient, explain.OutcomeHandshake, 0},
		{"unknown sni", "other.example", "other.example", "/", &f.frontClient, explain.OutcomeHandshake, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := explain.NewQuery(explain.Input{URL: "https://" + c.sni + c.path, Headers: []string{"Host: " + c.host}})
			if err != nil {
				t.Fatal(err)
			}
			if c.cert != nil {
				for _, der := range c.cert.Certificate {
					crt, err := x509.ParseCertificate(der)
					if err != nil {
						t.Fatal(err)
					}
					q.ClientChain = append(q.ClientChain, crt)
				}
				q.Request.TLS.PeerCertificates = q.ClientChain
			}
			d := g.dp.Explain(q)
			if d.Outcome != c.outcome || d.Status != c.status {
				t.Fatalf("explained %s %d (%s), want %s %d", d.Outcome, d.Status, d.Summary, c.outcome, c.status)
			}
			offline, err := dataplane.ExplainSnapshot(f.snap, f.creds, nil, q)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := jsonOf(t, d), jsonOf(t, offline); !reflect.DeepEqual(a, b) {
				t.Fatalf("live and offline differ:\n%s\n%s", a, b)
			}

			cl := g.client(t, clientConfig{SNI: c.sni, Roots: x509.NewCertPool(), Insecure: true, Cert: c.cert, NoKeepAlive: true})
			cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			req, _ := http.NewRequest(http.MethodGet, "https://"+c.host+c.path, nil)
			resp, err := cl.Do(req)
			if c.outcome == explain.OutcomeHandshake {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("explained a refused handshake, got %d", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("explained %q, request failed: %v", d.Summary, err)
			}
			resp.Body.Close()
			want := c.status
			if c.outcome == explain.OutcomeForward {
				want = http.StatusOK // the backend's answer
			}
			if resp.StatusCode != want {
				t.Fatalf("explained %q, got %d", d.Summary, resp.StatusCode)
			}
			if c.status == 302 && resp.Header.Get("Location") != d.Action.Location {
				t.Fatalf("Location %q, explained %q", resp.Header.Get("Location"), d.Action.Location)
			}
		})
	}
}

func jsonOf(t *testing.T, d *explain.Decision) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExplainPlainHTTP: a plain-HTTP port routes every server's hosts in one table; TLS to
// it, or plain HTTP to a TLS port, is explained as the protocol mismatch it is.
func TestExplainPlainHTTP(t *testing.T) {
	f := newFooCorp(t)
	f.snap.Listeners = append([]snapshot.Listener{{Name: "http_80", Port: 80, Protocol: snapshot.HTTP, Servers: []snapshot.Server{{
		Name: "default/gw/http", Hosts: []string{"*"}, VirtualHosts: []snapshot.VirtualHost{
			vhost(frontendHost, forward("default/frontend/0", "outbound|80||frontend.ux.svc.cluster.local"))},
	}}}}, f.snap.Listeners...)
	g := startGateway(t, f.snap, f.creds)
	for _, c := range []struct {
		url, outcome string
		status       int
	}{
		{"http://" + frontendHost + ":80/x", explain.OutcomeForward, 0},
		{"http://other.example:80/", explain.OutcomeResponse, 404},
		{"https://" + frontendHost + ":80/", explain.OutcomeNotTLS, 0},
		{"http://" + frontendHost + ":443/", explain.OutcomeNotTLS, 400},
		{"https://" + frontendHost + ":9443/", explain.OutcomeNoListener, 0},
	} {
		q, err := explain.NewQuery(explain.Input{URL: c.url})
		if err != nil {
			t.Fatal(err)
		}
		d := g.dp.Explain(q)
		if d.Outcome != c.outcome || d.Status != c.status {
			t.Errorf("%s: explained %s %d (%s), want %s %d", c.url, d.Outcome, d.Status, d.Summary, c.outcome, c.status)
		}
	}
	// The plain port serves what was explained.
	cl := g.client(t, clientConfig{Port: 80})
	if code, _ := get(t, cl, "http://"+frontendHost+"/x"); code != 200 {
		t.Errorf("forwarded request: %d", code)
	}
	if code, _ := get(t, cl, "http://other.example/"); code != 404 {
		t.Errorf("unclaimed host: %d", code)
	}
}
