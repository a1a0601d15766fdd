package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
)

type ppHeaderKey struct{}

// ppBackend serves HTTP/1.1 and h2c behind go-proxyproto's listener (a header is used
// when present): every response says what its connection's header was.
func ppBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := &proxyproto.Listener{Listener: ln, ReadHeaderTimeout: 5 * time.Second,
		ConnPolicy: func(proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) { return proxyproto.USE, nil }}
	srv := &http.Server{
		Protocols: new(http.Protocols),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("X-PP", r.Context().Value(ppHeaderKey{}).(string))
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			s := "none"
			if pc, ok := c.(*proxyproto.Conn); ok {
				if h := pc.ProxyHeader(); h != nil {
					s = fmt.Sprintf("v%d %s", h.Version, map[bool]string{true: "PROXY", false: "LOCAL"}[h.Command == proxyproto.PROXY])
					if h.SourceAddr != nil {
						s += " " + h.SourceAddr.String() + " " + h.DestinationAddr.String() + " " + c.RemoteAddr().String()
					}
				}
			}
			return context.WithValue(ctx, ppHeaderKey{}, s)
		},
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = srv.Serve(pl) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestHTTPProxyProtocol sends requests of every HTTP path (lean GET, POST over
// http.Transport, a cluster with a connection pool, HTTP/2) to clusters with and without
// a PROXY header, alternating on one backend: each connection starts with its cluster's
// header and no pooled connection crosses from one to another.
func TestHTTPProxyProtocol(t *testing.T) {
	backend := ppBackend(t)
	p := NewProxy(Options{}, nil)
	t.Cleanup(p.CloseIdleConnections)
	for _, proto := range []snapshot.UpstreamProtocol{snapshot.UpstreamHTTP1, snapshot.UpstreamHTTP2} {
		for _, pool := range []*snapshot.ConnectionPool{nil, {MaxConnections: 4}} {
			var specs []snapshot.Cluster
			for _, v := range []int{0, 1, 2} {
				c := snapshot.Cluster{Name: fmt.Sprintf("c%d-%s-%v", v, proto, pool != nil), Protocol: proto, Endpoints: []string{backend}, Pool: pool}
				if v > 0 {
					c.ProxyProtocol = &snapshot.ProxyProtocol{Version: v}
				}
				specs = append(specs, c)
			}
			cs := NewClusters(specs)
			var tg *Target
			front := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p.Forward(w, r, tg)
			}))
			client := h2Client(false)
			for round := range 2 {
				for v, spec := range specs {
					for _, method := range []string{"GET", "POST"} {
						tg = &Target{Endpoint: backend, Cluster: cs.Get(spec.Name)}
						var body io.Reader
						if method == "POST" {
							body = strings.NewReader("abc")
						}
						req, _ := http.NewRequest(method, "http://"+front+"/", body)
						resp, err := client.Do(req)
						if err != nil {
							t.Fatal(err)
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						got := resp.Header.Get("X-PP")
						what := fmt.Sprintf("%s pool=%v v%d %s round %d", proto, pool != nil, v, method, round)
						if resp.StatusCode != 200 {
							t.Fatalf("%s: status %d", what, resp.StatusCode)
						}
						switch v {
						case 0:
							if got != "none" {
								t.Errorf("%s: header %q on a cluster without proxyProtocol", what, got)
							}
						case 1:
							// The connection's own addresses: the gateway's socket, then the endpoint.
							f := strings.Fields(got)
							if len(f) != 5 || f[0] != "v1" || f[1] != "PROXY" || f[3] != backend || !strings.HasPrefix(f[2], "127.0.0.1:") || f[2] != f[4] {
								t.Errorf("%s: header %q", what, got)
							}
						case 2:
							if got != "v2 LOCAL" {
								t.Errorf("%s: header %q, want a LOCAL one", what, got)
							}
						}
					}
				}
			}
		}
	}
}

// TestHTTPProxyProtocolBeforeTLS: with TLS origination the header comes first, in the
// clear, then the handshake (the backend requires a header before its TLS), over
// HTTP/1.1 and HTTP/2.
func TestHTTPProxyProtocolBeforeTLS(t *testing.T) {
	ca := testpki.NewCA(t, "upstream CA")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := &proxyproto.Listener{Listener: ln, ReadHeaderTimeout: 5 * time.Second} // REQUIRE
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%s %s", r.Context().Value(ppHeaderKey{}), r.Proto)
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			s := "none"
			if tc, ok := c.(*tls.Conn); ok {
				if pc, ok := tc.NetConn().(*proxyproto.Conn); ok && pc.ProxyHeader() != nil {
					s = fmt.Sprintf("v%d", pc.ProxyHeader().Version)
				}
			}
			return context.WithValue(ctx, ppHeaderKey{}, s)
		},
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "backend.test")}, NextProtos: []string{"h2", "http/1.1"}},
	}
	go func() { _ = srv.ServeTLS(pl, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	ep := ln.Addr().String()
	var specs []snapshot.Cluster
	for _, proto := range []snapshot.UpstreamProtocol{snapshot.UpstreamHTTP1, snapshot.UpstreamHTTP2} {
		specs = append(specs, snapshot.Cluster{Name: "tls-" + string(proto), Protocol: proto, Endpoints: []string{ep},
			TLS: &snapshot.UpstreamTLS{Mode: "SIMPLE", InsecureSkipVerify: true}, ProxyProtocol: &snapshot.ProxyProtocol{Version: 2}})
	}
	cs := tlsClusters(nil, nil, specs...)
	p := NewProxy(Options{}, nil)
	t.Cleanup(p.CloseIdleConnections)
	for _, spec := range specs {
		for _, method := range []string{"GET", "POST", "GET"} {
			code, body := forward(t, p, cs.Get(spec.Name), ep, method, "backend.test", "/", "abc")
			want := "v2 HTTP/1.1"
			if spec.Protocol == snapshot.UpstreamHTTP2 {
				want = "v2 HTTP/2.0"
			}
			if code != 200 || body != want {
				t.Fatalf("%s %s: %d %q, want %q", spec.Name, method, code, body, want)
			}
		}
	}
}
