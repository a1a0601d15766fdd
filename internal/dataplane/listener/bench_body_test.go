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

// BenchmarkLoopBody is BenchmarkLoop with a 4 KiB request body the handler reads: the
// path of http.ReadRequest and the body wrapper (locking, activity stamps).
func BenchmarkLoopBody(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(b *testing.B) {
			f := start(b, useTLS, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, "ok")
			})
			c := f.dial()
			body := strings.Repeat("x", 4096)
			req := []byte("POST / HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
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
