package upstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestH1ConnectionClose(t *testing.T) {
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	h := newH1(t, 0)
	for range 3 {
		if _, body, err := get(t, h, context.Background(), "GET", s.URL, nil); err != nil || body != "bye" {
			t.Fatalf("%q %v", body, err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (Connection: close is honoured)", n)
	}
}

// TestH1StalePooledConnection: the upstream closed an idle pooled connection; a replayable
// request is retried on a new one, a non-replayable one fails (503 upstream).
func TestH1StalePooledConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// Answers exactly one request per connection without saying so, then closes it.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	h := newH1(t, 0)
	url := "http://" + ln.Addr().String() + "/"
	for i := range 3 {
		if _, body, err := get(t, h, context.Background(), "GET", url, nil); err != nil || body != "ok" {
			t.Fatalf("GET %d: %q %v", i, body, err)
		}
	}
	// Requests that may not be replayed (POST, DELETE) never take the lean pool, where they
	// could meet a connection the upstream just closed: see TestH1Fallback.
}

// TestH1IdleProbe: a pooled connection on which the upstream sent an unsolicited response
// (a 408 before closing) or which it closed is not reused.
func TestH1IdleProbe(t *testing.T) {
	for _, tc := range []struct{ name, after string }{
		{"unsolicited 408", "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{"closed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			goOn, written := make(chan struct{}), make(chan struct{})
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
				<-goOn
				_, _ = io.WriteString(c, tc.after)
				c.Close()
				close(written)
				for { // later connections: a normal answer
					c, err := ln.Accept()
					if err != nil {
						return
					}
					if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
					}
					c.Close()
				}
			}()
			h := newH1(t, 0)
			url := "http://" + ln.Addr().String() + "/"
			if _, body, err := get(t, h, context.Background(), "GET", url, nil); err != nil || body != "first" {
				t.Fatalf("first: %q %v", body, err)
			}
			close(goOn)
			<-written
			// The probe must see the bytes or the close: poll until they have arrived.
			deadline := time.Now().Add(5 * time.Second)
			for {
				c := h.pop(idleKey{addr: strings.TrimPrefix(strings.TrimSuffix(url, "/"), "http://")})
				if c == nil {
					t.Fatal("the first connection was not pooled")
				}
				if st, _ := c.probe.check(); st != idleClean {
					h.put(c)
					break
				}
				h.put(c)
				if time.Now().After(deadline) {
					t.Fatal("the probe never saw the upstream's bytes or close")
				}
				time.Sleep(time.Millisecond) // polling interval
			}
			resp, body, err := get(t, h, context.Background(), "GET", url, nil)
			if err != nil || resp.StatusCode != 200 || body != "second" {
				t.Fatalf("second: %v %q %v", resp, body, err)
			}
		})
	}
}
