package dataplane_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// A request that declares a body it does not send (yet) must not hold back a response the
// backend has already given (the hang of Traefik's CVE-2024-28869): the proxy's
// transport sits in the request body's Read, waiting for the client, while the response
// is written. The client gets the response at once; the connection is then closed (the
// rest of the body can no longer be told from a next request).
func TestResponseNotHeldByUnsentBody(t *testing.T) {
	be := answerAtOnce(t)
	route := forward("all", "be")
	g, _ := plainGateway(t, snapshot.VirtualHost{Name: "all", Domains: []string{"*"},
		Routes: []snapshot.Route{route}}, cluster("be", be))

	for _, head := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
	} {
		c, err := net.Dial("tcp", g.dp.Addr(80).String())
		if err != nil {
			t.Fatal(err)
		}
		// Generous: the failure this test catches is a response that never comes.
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: no response while the body is pending: %v", head, err)
		}
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "ok" || err != nil {
			t.Fatalf("%q: got %d %q %v", head, resp.StatusCode, body, err)
		}
		if !resp.Close {
			t.Errorf("%q: no Connection: close, but the body's rest is still due", head)
		}
		rest, err := io.ReadAll(br)
		if len(rest) > 0 || err != nil {
			t.Errorf("%q: after the response: %q %v, want the connection closed", head, rest, err)
		}
		_ = c.Close()
	}
}

// The same request sent whole is answered and the connection kept.
func TestDeclaredBodySentKeepsConnection(t *testing.T) {
	c := rawConnTo(t, hostPort(backend(t, "be")))
	br := bufio.NewReader(c)
	for range 2 {
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "0123456789") || resp.Close {
			t.Fatalf("got %d %q close=%v", resp.StatusCode, body, resp.Close)
		}
	}
}

// answerAtOnce is a backend that answers every request "ok" as soon as its head arrived,
// without waiting for its body (which it discards as it comes); it returns its address.
// (net/http's server would read the body before answering, unless full duplex.)
func answerAtOnce(t *testing.T) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_, _ = io.Copy(io.Discard, br)
	})
}

// serveConns listens on loopback and runs handle on each accepted connection, each on
// its own goroutine; at cleanup it closes the listener and every connection and waits
// for the handlers. It returns the address.
func serveConns(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	return ln.Addr().String()
}
