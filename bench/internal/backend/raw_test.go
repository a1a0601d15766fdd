package backend

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServeRaw(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeRaw(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Two pipelined requests (one with a body and a port in Host), then one asking to close.
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: Frontend.FooCorp.com:443\r\n\r\n"+
		"POST /x HTTP/1.1\r\nhost: inventory.foocorp.com\r\nContent-Length: 3\r\n\r\nabc"+
		"GET / HTTP/1.1\r\nHost: h1.scale.foocorp.com\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	for _, want := range []string{FrontendBody, InventoryBody, "ok h1.scale.foocorp.com\n"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, b, want)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after Connection: close: %v, want EOF", err)
	}
	if !strings.Contains(Body("x"), "ok x") {
		t.Fatal("Body")
	}
}
