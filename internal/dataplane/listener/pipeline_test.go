package listener_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// batchConn holds writes while hold is set, then sends them in one TCP write.
type batchConn struct {
	net.Conn
	hold bool
	buf  []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	if b.hold {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

// Pipelined requests that crypto/tls has already read (and buffered) with the first must
// be served without waiting for the socket to become readable again: it never does.
func TestPipeliningOverTLS(t *testing.T) {
	f := start(t, true, routes)
	cases := []struct {
		name  string
		write func(tc *tls.Conn, bc *batchConn)
	}{
		{"two requests in one record", func(tc *tls.Conn, _ *batchConn) {
			_, _ = tc.Write([]byte(get("/echo") + get("/cl")))
		}},
		{"two records in one TCP segment", func(tc *tls.Conn, bc *batchConn) {
			bc.hold = true
			_, _ = tc.Write([]byte(get("/echo")))
			_, _ = tc.Write([]byte(get("/cl")))
			bc.hold = false
			_, _ = bc.Write(bc.buf)
		}},
		{"second request after the first response", func(tc *tls.Conn, _ *batchConn) {
			_, _ = tc.Write([]byte(get("/echo")))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := net.Dial("tcp", f.l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			bc := &batchConn{Conn: raw}
			tc := tls.Client(bc, f.roots)
			defer tc.Close()
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			cl := &client{t: t, c: tc, br: bufio.NewReader(tc)}
			c.write(tc, bc)
			if r, body := cl.read("GET"); r.StatusCode != 200 || body != "GET /echo " {
				t.Fatalf("first: %d %q", r.StatusCode, body)
			}
			if c.name == "second request after the first response" {
				cl.send(get("/cl"))
			}
			if r, body := cl.read("GET"); r.StatusCode != 200 || body != "hello" {
				t.Fatalf("second: %d %q", r.StatusCode, body)
			}
		})
	}
}
