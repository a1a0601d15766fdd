package listener_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkLoop measures the HTTP/1.1 loop alone: one keep-alive connection, a handler
// that writes two bytes, and a client that writes the raw request and reads the
// response's exact byte count (no parsing), so allocs/op are the server's.
func BenchmarkLoop(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(b *testing.B) {
			f := start(b, useTLS, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
			c := f.dial()
			req := []byte(get("/"))
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
