//go:build linux

package listener

import (
	"crypto/tls"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestServeLoop: a port whose servers are all PASSTHROUGH is accepted by the event loop
// (Config.Accept) and its streams reach Config.Stream as raw sockets with the hello's
// SNI; a port with a terminated server, or reading PROXY headers, keeps Go's accept;
// Close stops the loop's accepting and Serve returns.
func TestServeLoop(t *testing.T) {
	pass := snapshot.Server{Name: "gw/pass", Hosts: []string{"a.example"}, Passthrough: true}
	simple := snapshot.Server{Name: "gw/https", Hosts: []string{"h.example"}, TLS: &snapshot.TLS{Mode: snapshot.TLSSimple}}
	tk := Tickets{Secret: []byte("x")}
	for _, tc := range []struct {
		name    string
		servers []snapshot.Server
		pp      *ProxyProtocol
		loop    bool
	}{
		{"passthrough only", []snapshot.Server{pass}, nil, true},
		{"a terminated server too", []snapshot.Server{pass, simple}, nil, false},
		{"downstream PROXY protocol", []snapshot.Server{pass}, &ProxyProtocol{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &tcpproxy.Proxy{Engine: tcpproxy.EngineLoop}
			table := NewTable(tc.servers, staticCreds{}, tk, slog.New(slog.DiscardHandler))
			got := make(chan StreamConn, 1)
			l, err := Listen(Config{
				Addr:              "127.0.0.1:0",
				TLS:               func() *Table { return table },
				ReadHeaderTimeout: time.Second,
				ProxyProtocol:     tc.pp,
				Accept:            x.Accept,
				CloseStream:       x.Close,
				Stream: func(sc StreamConn) {
					got <- sc
					_ = sc.Conn.Close()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- l.Serve() }()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(captureHello(t, &tls.Config{ServerName: "a.example"})); err != nil {
				t.Fatal(err)
			}
			if tc.pp == nil {
				select {
				case sc := <-got:
					_, raw := sc.Conn.(*tcpproxy.Upstream)
					if raw != tc.loop || sc.SNI != "a.example" || sc.Server == nil || sc.Server.Name != "gw/pass" {
						t.Fatalf("stream %T, SNI %q, server %v; want a raw socket: %v", sc.Conn, sc.SNI, sc.Server, tc.loop)
					}
					if sc.Remote.String() != c.LocalAddr().String() {
						t.Fatalf("remote %v, want %v", sc.Remote, c.LocalAddr())
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no stream")
				}
			}
			l.amu.Lock()
			loop := l.acceptStop != nil
			l.amu.Unlock()
			if loop != tc.loop {
				t.Fatalf("accepted by the loop: %v, want %v", loop, tc.loop)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-served:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return after Close")
			}
			if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
				c.Close()
				t.Fatal("still accepting after Close")
			}
		})
	}
}
