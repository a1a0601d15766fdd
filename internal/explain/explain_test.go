package explain

import (
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestNewQueryIsCurlShaped(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      Input
		port    uint32
		sni     string
		host    string
		target  string
		tls     bool
		wantErr string
	}{
		{name: "sni defaults to the url host", in: Input{URL: "https://a.example/x?q=1"}, port: 443, sni: "a.example", host: "a.example", target: "/x?q=1", tls: true},
		{name: "explicit sni and host header", in: Input{URL: "https://a.example:8443/", SNI: "b.example", Headers: []string{"Host: c.example", "X-A: 1"}}, port: 8443, sni: "b.example", host: "c.example", target: "/", tls: true},
		{name: "port map", in: Input{URL: "https://a.example:18443", PortMap: map[uint32]string{443: "127.0.0.1:18443"}}, port: 443, sni: "a.example", host: "a.example:18443", target: "/", tls: true},
		{name: "ip literal sends no sni", in: Input{URL: "https://127.0.0.1/"}, port: 443, host: "127.0.0.1", target: "/", tls: true},
		{name: "plain http", in: Input{URL: "http://a.example/p"}, port: 80, host: "a.example", target: "/p"},
		{name: "bad scheme", in: Input{URL: "ftp://a/"}, wantErr: "want https:// or http://"},
		{name: "bad header", in: Input{URL: "https://a/", Headers: []string{"nocolon"}}, wantErr: "want 'Name: value'"},
		{name: "key without matching cert", in: Input{URL: "https://a/", CertPEM: []byte("x"), KeyPEM: []byte("y")}, wantErr: "client certificate and key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := NewQuery(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.Port != c.port || q.SNI != c.sni || q.Request.Host != c.host || q.Request.URL.RequestURI() != c.target || q.TLS != c.tls {
				t.Fatalf("port %d sni %q host %q target %q tls %v", q.Port, q.SNI, q.Request.Host, q.Request.URL.RequestURI(), q.TLS)
			}
			if (q.Request.TLS != nil) != c.tls {
				t.Fatalf("request TLS state %v", q.Request.TLS)
			}
		})
	}
}

func TestWriteText(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &Decision{
		Request: Request{URL: "https://a.example/nope", Method: "GET", Host: "a.example", Path: "/nope", SNI: "a.example", Port: 443},
		Outcome: OutcomeResponse, Status: 404, Summary: "404: no rule of a.example:443 matches",
		Server:     &Server{Name: "gw/s", Hosts: []string{"a.example"}, Match: "exact", Why: `SNI "a.example" equals host a.example`},
		Credential: &Credential{Name: "secret:ns/c", Serial: "1f", NotAfter: now.Add(49 * time.Hour)},
		ClientAuth: &ClientAuth{Mode: "MUTUAL", Presented: true, Accepted: true, Reason: "ok"},
		Binding:    &Binding{Host: "a.example", Allowed: true, Why: "same server"},
		Authz:      &Authz{Enforced: true, Allowed: true, Policy: "ns/allow"},
		Routing:    &Routing{VirtualHost: "a.example:443", Routes: []Rule{{Name: "ns/vs/0", Clauses: []string{`uri: path "/nope" is not exact "/"`}}}},
		Action:     &Action{Kind: "forward", RequestHeaders: &snapshot.HeaderOps{Set: map[string]string{"X-A": "1"}, Remove: []string{"X-B"}}},
	}
	var b strings.Builder
	if err := WriteText(&b, d, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"outcome: 404: no rule of a.example:443 matches",
		"server:   gw/s [exact]",
		"expires 2030-01-03T01:00:00Z (in 2d1h0m0s)",
		"accepted: ok",
		"host binding: ok — same server",
		"authz:    allowed by policy ns/allow",
		`match[0]: uri: path "/nope" is not exact "/"`,
		"request headers: remove X-B",
		"request headers: set X-A: 1",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}
