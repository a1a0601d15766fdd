package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUpstreamLargeDownload: a 12 MiB response with Content-Length reaches curl whole over
// HTTP/1.1 and HTTP/2 (the lean path used to cut bodies at its 10 MiB head limit).
func TestUpstreamLargeDownload(t *testing.T) {
	const size = 12 << 20
	body := strings.Repeat("0123456789abcdef", size/16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e := setupWalkthroughWith(t, ln.Addr().(*net.TCPAddr).Port)
	const fe = "frontend.foocorp.com"
	for _, proto := range []string{"--http1.1", "--http2"} {
		t.Run(proto, func(t *testing.T) {
			out, errOut, code := e.curl(t, fe, fe, fe, "/", proto, "-o", "/dev/null", "-w", "%{http_version} %{http_code} %{size_download}")
			want := map[string]string{"--http1.1": "1.1", "--http2": "2"}[proto] + " 200 " + strconv.Itoa(size)
			if code != 0 || out != want {
				t.Fatalf("curl exit %d, got %q, want %q; stderr %s", code, out, want, errOut)
			}
		})
	}
}

// TestUpstreamNoCrossClientResponse: a backend that sends a late body after its answer to
// a HEAD (a response of its own, with a Set-Cookie) must not make another client receive
// it. Client A sends HEAD over HTTP/1.1; once the late bytes are out, client B sends GET
// over HTTP/2 on its own connection and must get its own response.
func TestUpstreamNoCrossClientResponse(t *testing.T) {
	const attack = "HTTP/1.1 200 OK\r\nSet-Cookie: session=attacker\r\nContent-Length: 8\r\n\r\nattacker"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	lateSent := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.Method == http.MethodHead {
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
						time.Sleep(50 * time.Millisecond) // the body a HEAD must not have, late
						_, _ = io.WriteString(c, attack)
						lateSent <- struct{}{}
						continue
					}
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nown response\n")
				}
			}()
		}
	}()
	e := setupWalkthroughWith(t, ln.Addr().(*net.TCPAddr).Port)
	const fe = "frontend.foocorp.com"
	out, errOut, code := e.curl(t, fe, fe, fe, "/", "--http1.1", "-I")
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("client A (HEAD): curl exit %d\n%s%s", code, out, errOut)
	}
	select {
	case <-lateSent:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend never sent the late body")
	}
	time.Sleep(200 * time.Millisecond) // client B comes along a little later
	out, errOut, code = e.curl(t, fe, fe, fe, "/", "--http2", "-D", "-")
	if code != 0 || strings.Contains(out, "attacker") || !strings.HasPrefix(out, "HTTP/2 200") || !strings.HasSuffix(out, "\r\n\r\nown response\n") {
		t.Fatalf("client B (GET over HTTP/2) got another client's response or none: curl exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(e.gw.logs.String(), "unsolicited response on idle upstream connection") {
		t.Errorf("the gateway did not log the unsolicited response:\n%s", e.gw.logs.String())
	}
}
