//go:build linux

package listener

import (
	"crypto/tls"
	"io"
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
			l, served, c := serveAndDial(t, Config{
				TLS:           func() *Table { return table },
				ProxyProtocol: tc.pp,
				Accept:        x.Accept,
				CloseStream:   x.Close,
				Stream: func(sc StreamConn) {
					got <- sc
					_ = sc.Conn.Close()
				},
			})
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
			awaitServe(t, served)
			if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
				c.Close()
				t.Fatal("still accepting after Close")
			}
		})
	}
}

// TestServeLoopStreamLoop: with Config.StreamLoop a loop-accepted passthrough connection
// is taken on the loop's goroutine and carried there (tcpproxy.Proxy.Start); it is in
// the listener's stream set until its done, and Close ends it through CloseStream.
func TestServeLoopStreamLoop(t *testing.T) {
	echo, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	x := &tcpproxy.Proxy{Engine: tcpproxy.EngineLoop}
	pass := snapshot.Server{Name: "gw/pass", Hosts: []string{"a.example"}, Passthrough: true}
	table := NewTable([]snapshot.Server{pass}, staticCreds{}, Tickets{Secret: []byte("x")}, slog.New(slog.DiscardHandler))
	ended := make(chan tcpproxy.Result, 1)
	l, served, c := serveAndDial(t, Config{
		TLS:         func() *Table { return table },
		Accept:      x.Accept,
		CloseStream: x.Close,
		Stream:      func(sc StreamConn) { t.Error("Stream called: StreamLoop takes loop-accepted streams") },
		StreamLoop: func(sc StreamConn, done func()) {
			u, ok := sc.Conn.(*tcpproxy.Upstream)
			if !ok || sc.SNI != "a.example" {
				t.Errorf("StreamLoop got %T, SNI %q", sc.Conn, sc.SNI)
			}
			if !x.Start(u, &tcpproxy.StreamSpec{Addr: echo.Addr().String(), Prefix: sc.Prefix, Counter: nopCount{},
				Dialed: func(err error) bool { return err == nil },
				Done:   func(r tcpproxy.Result) { done(); ended <- r }}) {
				t.Error("Start did not apply")
				_ = u.Close()
				done()
			}
		},
	})
	hello := captureHello(t, &tls.Config{ServerName: "a.example"})
	if _, err := c.Write(append(hello, "ping"...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	back := make([]byte, len(hello)+4)
	if _, err := io.ReadFull(c, back); err != nil || string(back[len(hello):]) != "ping" {
		t.Fatalf("echo %q, %v", back[len(hello):], err)
	}
	if n := l.StreamCount(); n != 1 {
		t.Fatalf("%d streams counted, want 1", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ended:
		if r.Received != int64(len(back)) || r.Sent != int64(len(back)) {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end at Close")
	}
	if n := l.StreamCount(); n != 0 {
		t.Fatalf("%d streams counted after the end", n)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("client still open")
	}
	awaitServe(t, served)
}

// serveAndDial listens on loopback with cfg (ReadHeaderTimeout 1 s), serves, and dials.
func serveAndDial(t *testing.T, cfg Config) (*Listener, <-chan error, net.Conn) {
	t.Helper()
	cfg.Addr, cfg.ReadHeaderTimeout = "127.0.0.1:0", time.Second
	l, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.Serve() }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return l, served, c
}

// awaitServe waits for Serve to return nil after Close.
func awaitServe(t *testing.T, served <-chan error) {
	t.Helper()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}

type nopCount struct{}

func (nopCount) Received(int64) {}
func (nopCount) Sent(int64)     {}
