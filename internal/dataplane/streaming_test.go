package dataplane_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// HTTP/2 is negotiated by ALPN; request and response bodies stream through the proxy in
// both directions without being buffered, over HTTP/1.1 and HTTP/2.
func TestStreaming(t *testing.T) {
	f := newFooCorp(t)
	next := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload": // count the body as it arrives
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d", n)
		default: // a slow download: one line per tick of the test
			for i := range 3 {
				fmt.Fprintf(w, "chunk %d\n", i)
				w.(http.Flusher).Flush()
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
		}
	}))
	t.Cleanup(be.Close)
	f.snap.Clusters[0].Endpoints = []string{hostPort(be)}
	f.snap.Listeners[0].Servers[0].VirtualHosts[0].Routes[0].Match = nil // every path
	g := startGateway(t, f.snap, f.creds)

	for _, tc := range []struct {
		name  string
		h2    bool
		proto string
	}{{"http/1.1", false, "HTTP/1.1"}, {"h2", true, "HTTP/2.0"}} {
		t.Run(tc.name, func(t *testing.T) {
			c := g.client(t, clientConfig{SNI: frontendHost, Roots: f.frontCA.Pool, Cert: &f.frontClient, H2: tc.h2})

			t.Run("streamed download", func(t *testing.T) {
				resp, err := c.Get("https://" + frontendHost + "/download")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.Proto != tc.proto {
					t.Fatalf("protocol %s, want %s", resp.Proto, tc.proto)
				}
				r := bufio.NewReader(resp.Body)
				for i := range 3 {
					// Each chunk must arrive before the backend is allowed to write the next.
					line, err := r.ReadString('\n')
					if err != nil || line != fmt.Sprintf("chunk %d\n", i) {
						t.Fatalf("chunk %d: %q %v", i, line, err)
					}
					next <- struct{}{}
				}
			})

			t.Run("chunked upload", func(t *testing.T) {
				pr, pw := io.Pipe()
				go func() {
					for range 64 {
						_, _ = pw.Write([]byte(strings.Repeat("x", 1024)))
					}
					pw.Close()
				}()
				req, _ := http.NewRequest(http.MethodPost, "https://"+frontendHost+"/upload", pr)
				resp, err := c.Do(req) // ContentLength unknown: chunked (h1) or streamed DATA (h2)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || string(body) != "65536" || resp.Proto != tc.proto {
					t.Fatalf("got %d %q over %s", resp.StatusCode, body, resp.Proto)
				}
			})
		})
	}
}
