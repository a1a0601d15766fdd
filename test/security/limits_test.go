package security

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
)

// Short limits so that slow clients are cut quickly.
const (
	readHeaderTimeout = 500 * time.Millisecond
	idleTimeout       = time.Second
	maxHeaderBytes    = 8 << 10
	// slack: net/http reads up to MaxHeaderBytes + 4096 bytes of request line and headers
	// before answering 431.
	slack = 4096
	// margin for a timeout to fire on a loaded machine.
	margin = 3 * time.Second
)

func limited(o *app.Options) {
	o.ReadHeaderTimeout, o.IdleTimeout, o.MaxHeaderBytes = readHeaderTimeout, idleTimeout, maxHeaderBytes
}

// dialTCP opens a plain TCP connection to the gateway port.
func (e *env) dialTCP(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedWithin wants the server to close c within d (reads until EOF or reset).
func closedWithin(t *testing.T, c net.Conn, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(d))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %v", d)
			}
			return time.Since(start)
		}
	}
}

// TestOversizedAndSlowClients: oversized headers get 431; clients that dribble headers,
// never finish the handshake or idle are disconnected by the timeouts; idle connections
// do not keep new clients out.
func TestOversizedAndSlowClients(t *testing.T) {
	e := newEnv(t, limited)
	t.Run("headers within the limit", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/api/x", fe, "X-Big: "+strings.Repeat("a", maxHeaderBytes/2)))
		mustEcho(t, resp, body, "frontend")
	})
	for name, n := range map[string]int{"one big header": maxHeaderBytes + slack + 1, "four times the limit": 4 * maxHeaderBytes} {
		t.Run(name+": 431", func(t *testing.T) {
			rc := e.open(t, fe, fe)
			resp, body := rc.do(get("/api/x", fe, "X-Big: "+strings.Repeat("a", n)))
			mustStatus(t, resp, body, http.StatusRequestHeaderFieldsTooLarge)
		})
	}
	t.Run("many small headers: 431", func(t *testing.T) {
		var hs []string
		for i := 0; i < 2*(maxHeaderBytes+slack)/10; i++ {
			hs = append(hs, "X-A: 12345")
		}
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/api/x", fe, hs...))
		mustStatus(t, resp, body, http.StatusRequestHeaderFieldsTooLarge)
	})
	t.Run("HTTP/2 one oversized header: connection refused (COMPRESSION_ERROR)", func(t *testing.T) {
		h := e.openH2(t, fe, fe)
		before := e.echo.count()
		r, err := h.try(h2get(fe, "/api/x", "x-big", strings.Repeat("a", 2*maxHeaderBytes))...)
		if err == nil && r.reset == 0 {
			mustStatus(t, r.asHTTP(), r.body, http.StatusRequestHeaderFieldsTooLarge)
		}
		if n := len(e.echo.since(before)); n > 0 {
			t.Fatalf("%d backend requests", n)
		}
	})
	t.Run("HTTP/2 oversized header list: 431", func(t *testing.T) {
		fields := h2get(fe, "/api/x")
		for i := 0; i < 2*maxHeaderBytes/500; i++ {
			fields = append(fields, "x-big-"+strconv.Itoa(i), strings.Repeat("a", 500))
		}
		h := e.openH2(t, fe, fe)
		r := h.get(fields...)
		mustStatus(t, r.asHTTP(), r.body, http.StatusRequestHeaderFieldsTooLarge)
	})
	t.Run("slowloris: headers dribbled past the read-header timeout", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		rc.send("GET /api/x HTTP/1.1\r\nHost: " + fe + "\r\n")
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // one header byte every 50 ms, never the blank line
			defer close(done)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := rc.c.Write([]byte("a")); err != nil {
						return
					}
				}
			}
		}()
		took := closedWithin(t, rc.c, readHeaderTimeout+margin)
		close(stop)
		<-done
		if took < readHeaderTimeout/2 {
			t.Fatalf("closed after %v, before the timeout", took)
		}
	})
	t.Run("TCP connection that never starts a handshake", func(t *testing.T) {
		closedWithin(t, e.dialTCP(t), readHeaderTimeout+margin)
	})
	t.Run("handshake that never completes (half a ClientHello)", func(t *testing.T) {
		c := e.dialTCP(t)
		hello := clientHello(tls.VersionTLS12, []byte(fe))
		if _, err := c.Write(hello[:len(hello)/2]); err != nil {
			t.Fatal(err)
		}
		closedWithin(t, c, readHeaderTimeout+margin)
	})
	t.Run("TLS connection that never sends a request", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		closedWithin(t, rc.c, idleTimeout+readHeaderTimeout+margin)
	})
	t.Run("idle keep-alive connection", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/api/x", fe))
		mustEcho(t, resp, body, "frontend")
		closedWithin(t, rc.c, idleTimeout+margin)
	})
	t.Run("idle HTTP/2 connection", func(t *testing.T) {
		c, err := e.dial(e.tlsConfig(fe, fe, "h2"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"))
		closedWithin(t, c, idleTimeout+margin)
	})
	t.Run("many idle connections do not keep a new client out", func(t *testing.T) {
		const raw, tlsIdle = 300, 50
		var conns []net.Conn
		for range raw {
			conns = append(conns, e.dialTCP(t))
		}
		for range tlsIdle {
			conns = append(conns, e.open(t, pub, "").c)
		}
		start := time.Now()
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/api/x", fe))
		mustEcho(t, resp, body, "frontend")
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("a new client waited %v", took)
		}
		// ... and every idle one is closed by the timeouts: their number stays bounded.
		for _, c := range conns {
			closedWithin(t, c, idleTimeout+readHeaderTimeout+margin)
		}
	})
	t.Run("slow request body is not cut by the header timeout (documented)", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		rc.send("POST /api/x HTTP/1.1\r\nHost: " + fe + "\r\nContent-Length: 10\r\n\r\nab")
		_ = rc.c.SetReadDeadline(time.Now().Add(3 * readHeaderTimeout))
		if _, err := bufio.NewReader(rc.c).ReadByte(); err == nil {
			t.Fatal("unexpected response before the body completed")
		} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("connection closed during a slow body: %v", err)
		}
		_ = rc.c.SetReadDeadline(time.Time{})
		resp, body := rc.do("cdefghij")
		if s := mustEcho(t, resp, body, "frontend"); s.Body != "abcdefghij" {
			t.Fatalf("body %q", s.Body)
		}
	})
}
