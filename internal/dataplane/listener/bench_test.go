package listener_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkLoop measures the HTTP/1.1 loop alone: one keep-alive connection, a handler
// that writes two bytes, and a client that writes the raw request and reads the
// response's exact byte count (no parsing), so allocs/op are the server's.
func BenchmarkLoop(b *testing.B) {
	benchLoop(b, []byte(get("/")), func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
}

// BenchmarkLoopBody is BenchmarkLoop with a 4 KiB request body the handler reads: the
// path of http.ReadRequest and the body wrapper (locking, activity stamps).
func BenchmarkLoopBody(b *testing.B) {
	body := strings.Repeat("x", 4096)
	req := []byte("POST / HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	benchLoop(b, req, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
}

// benchLoop sends req over and over on one connection, plain and over TLS, to a handler
// answering "ok".
func benchLoop(b *testing.B, req []byte, h http.HandlerFunc) {
	for _, useTLS := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(b *testing.B) {
			f := start(b, useTLS, h)
			c := f.dial()
			// The first response gives the size of all (the Date field has a fixed width).
			_, _ = c.c.Write(req)
			head, err := c.br.ReadBytes('k')
			if err != nil || !bytes.HasSuffix(head, []byte("\r\n\r\nok")) {
				b.Fatalf("first response %q: %v", head, err)
			}
			buf := make([]byte, len(head))
			rd := bufio.NewReader(c.c)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(rd, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
