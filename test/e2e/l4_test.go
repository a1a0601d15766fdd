package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

func TestL4(t *testing.T) {
	e := setupL4(t)

	t.Run("passthrough reaches the backend's own certificate", func(t *testing.T) {
		c, err := e.tlsDial(t, &tls.Config{ServerName: l4Pass, RootCAs: roots(t, e.pki, l4Pass)})
		if err != nil {
			t.Fatalf("handshake through passthrough: %v", err)
		}
		defer c.Close()
		leaf := c.ConnectionState().PeerCertificates[0]
		if want := fileSerial(t, certs.PathsFor(e.pki, l4Pass).ServerCert); strings.ToUpper(leaf.SerialNumber.Text(16)) != want {
			t.Fatalf("peer certificate serial %x, the backend's is %s", leaf.SerialNumber, want)
		}
		if got := exchange(t, c, bufio.NewReader(c), "ping"); got != "db:ping" {
			t.Fatalf("reply %q", got)
		}
	})

	t.Run("openssl s_client verifies the backend", func(t *testing.T) {
		out, errOut, code := shIn(t, e.pki, "ping\n", "openssl", "s_client", "-connect", "127.0.0.1:"+strconv.Itoa(e.tlsPort),
			"-servername", l4Pass, "-CAfile", certs.PathsFor(e.pki, l4Pass).Chain, "-verify_return_error", "-quiet", "-no_ign_eof")
		if code != 0 || !strings.Contains(out, "db:ping") {
			t.Fatalf("openssl exit %d, out %q, err %s", code, out, errOut)
		}
	})

	t.Run("MUTUAL HTTPS host on the same port", func(t *testing.T) {
		cfg, err := certs.ClientTLS(e.pki, l4MTLS)
		if err != nil {
			t.Fatal(err)
		}
		body, code := httpsGet(t, e.tlsPort, cfg, l4MTLS)
		if code != 200 || strings.TrimSpace(body) != l4Body {
			t.Fatalf("status %d body %q", code, body)
		}
		// Without a client certificate the MUTUAL host refuses.
		cfg.Certificates = nil
		e.mustRefuse(t, cfg, "MUTUAL host without a client certificate")
	})

	t.Run("TLS-terminated TCP with a client certificate", func(t *testing.T) {
		cfg, err := certs.ClientTLS(e.pki, l4TCPS)
		if err != nil {
			t.Fatal(err)
		}
		cfg.NextProtos = []string{"h2", "http/1.1"}
		c, err := e.tlsDial(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The gateway's certificate for tcps (terminated here), not a backend's.
		if got := c.ConnectionState().PeerCertificates[0].Subject.CommonName; got != l4TCPS {
			t.Fatalf("peer certificate CN %q", got)
		}
		r := bufio.NewReader(c)
		if got := exchange(t, c, r, "GET / HTTP/1.1"); got != "ts:GET / HTTP/1.1" {
			t.Fatalf("reply %q: the stream must reach the tcp backend, never HTTP routing", got)
		}
		cfg.Certificates = nil
		e.mustRefuse(t, cfg, "TLS-terminated TCP without a client certificate")
	})

	t.Run("plain TCP weights", func(t *testing.T) {
		a0, b0 := e.a.opened(), e.b.opened()
		const n = 200
		for i := range n {
			c := dialTCP(t, e.tcpPort)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			got := exchange(t, c, bufio.NewReader(c), "n"+strconv.Itoa(i))
			c.Close()
			if got != "a:n"+strconv.Itoa(i) && got != "b:n"+strconv.Itoa(i) {
				t.Fatalf("reply %q", got)
			}
		}
		a, b := e.a.opened()-a0, e.b.opened()-b0
		// 80/20 over 200 connections: b ~ 40, sd ~ 5.7; bounds at > 4 sd.
		if a+b != n || b < 15 || b > 70 {
			t.Fatalf("a=%d b=%d, want about 160/40", a, b)
		}
		t.Logf("a=%d b=%d", a, b)
	})

	t.Run("half-close both ways", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			dial func() net.Conn
			want string
		}{
			{"tcp", func() net.Conn {
				c := dialTCP(t, e.tcpPort)
				return c
			}, ""},
			{"passthrough", func() net.Conn {
				c, err := e.tlsDial(t, &tls.Config{ServerName: l4Pass, RootCAs: roots(t, e.pki, l4Pass)})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}, "db"},
			{"terminated", func() net.Conn {
				cfg, _ := certs.ClientTLS(e.pki, l4TCPS)
				c, err := e.tlsDial(t, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}, "ts"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := tc.dial()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, "one\ntwo\n"); err != nil {
					t.Fatal(err)
				}
				if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				all, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("read after half-close: %v (got %q)", err, all)
				}
				lines := strings.Split(strings.TrimSpace(string(all)), "\n")
				if len(lines) != 3 || !strings.HasSuffix(lines[2], ":bye 8") {
					t.Fatalf("got %q, want two echoes and the bye sent after our FIN", all)
				}
				if tc.want != "" && !strings.HasPrefix(lines[0], tc.want+":") {
					t.Fatalf("got %q from the wrong backend", all)
				}
			})
		}
	})

	t.Run("idle timeout", func(t *testing.T) {
		c := dialTCP(t, e.idlePort)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		// Traffic every 300 ms keeps a 600 ms idle timeout from firing.
		for i := range 4 {
			if got := exchange(t, c, r, "k"+strconv.Itoa(i)); got != "idle:k"+strconv.Itoa(i) {
				t.Fatalf("reply %q", got)
			}
			time.Sleep(300 * time.Millisecond)
		}
		start := time.Now()
		b, err := r.ReadByte()
		if err != io.EOF {
			t.Fatalf("read %q, %v; want EOF from the idle timeout", b, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("closed after %v", d)
		}
	})

	t.Run("fragmented ClientHello", func(t *testing.T) {
		for _, size := range []int{1, 7, 100} {
			raw := dialTCP(t, e.tlsPort)
			fc := &fragmenter{Conn: raw, size: size}
			c := tls.Client(fc, &tls.Config{ServerName: l4Pass, RootCAs: roots(t, e.pki, l4Pass)})
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatalf("records of %d bytes: %v", size, err)
			}
			if fc.records < 2 {
				t.Fatalf("hello sent in %d records", fc.records)
			}
			if got := exchange(t, c, bufio.NewReader(c), "frag"); got != "db:frag" {
				t.Fatalf("reply %q", got)
			}
			c.Close()
		}
	})

	t.Run("ClientHello over 16 KiB", func(t *testing.T) {
		alpn := make([]string, 80) // 80 names of 255 bytes: two TLS records
		for i := range alpn {
			alpn[i] = strings.Repeat(string(rune('a'+i%26)), 254) + string(rune('A'+i/26))
		}
		c, err := e.tlsDial(t, &tls.Config{ServerName: l4Pass, RootCAs: roots(t, e.pki, l4Pass), NextProtos: alpn})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := exchange(t, c, bufio.NewReader(c), "big"); got != "db:big" {
			t.Fatalf("reply %q", got)
		}
	})

	t.Run("unfinished ClientHello times out", func(t *testing.T) {
		c := dialTCP(t, e.tlsPort)
		defer c.Close()
		_, _ = c.Write([]byte{22, 3, 1, 0, 200, 1, 0})
		_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
		start := time.Now()
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("got bytes for a half ClientHello")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the gateway kept the connection open past --read-header-timeout")
		}
		t.Logf("closed after %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("SNI boundary", func(t *testing.T) {
		// A passthrough SNI never gets the gateway's certificates: the web CA cannot
		// verify what answers, and an HTTP request for the web host lands on the db
		// backend (which echoes it), never on the web routes.
		if _, err := e.tlsDial(t, &tls.Config{ServerName: l4Pass, RootCAs: roots(t, e.pki, l4MTLS)}); err == nil {
			t.Fatal("passthrough SNI verified against the web CA")
		}
		c, err := e.tlsDial(t, &tls.Config{ServerName: l4Pass, RootCAs: roots(t, e.pki, l4Pass)})
		if err != nil {
			t.Fatal(err)
		}
		got := exchange(t, c, bufio.NewReader(c), "GET / HTTP/1.1 Host: web.example.com")
		c.Close()
		if !strings.HasPrefix(got, "db:") {
			t.Fatalf("reply %q", got)
		}
		// A terminated connection cannot name the passthrough host: 421.
		cfg, _ := certs.ClientTLS(e.pki, l4MTLS)
		req, _ := http.NewRequest("GET", "https://"+l4MTLS+"/", nil)
		req.Host = l4Pass
		resp, err := httpsClient(e.tlsPort, cfg).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Fatalf("Host %s on a terminated connection: status %d, want 421", l4Pass, resp.StatusCode)
		}
		// Unknown SNI on a port that passes TLS through: closed without a TLS alert, as
		// Envoy does when no filter chain matches (a terminate-only port answers
		// unrecognized_name instead, see the walkthrough test).
		if _, err := e.tlsDial(t, &tls.Config{ServerName: "nope.example.com", InsecureSkipVerify: true}); err == nil ||
			strings.Contains(err.Error(), "remote error") {
			t.Fatalf("unknown SNI: %v, want the connection closed without an alert", err)
		}
		// No SNI at all: no server is "*", so the same refusal.
		if _, err := e.tlsDial(t, &tls.Config{InsecureSkipVerify: true}); err == nil ||
			strings.Contains(err.Error(), "remote error") {
			t.Fatalf("no SNI: %v, want the connection closed without an alert", err)
		}
	})

	t.Run("live changes keep unrelated streams", func(t *testing.T) {
		open := func(name string, dial func() (net.Conn, error)) (net.Conn, *bufio.Reader) {
			c, err := dial()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			return c, bufio.NewReader(c)
		}
		pc, pr := open("passthrough", func() (net.Conn, error) {
			return e.tlsDial(t, &tls.Config{ServerName: l4Pass, RootCAs: roots(t, e.pki, l4Pass)})
		})
		defer pc.Close()
		tcfg, _ := certs.ClientTLS(e.pki, l4TCPS)
		tc, tr := open("terminated", func() (net.Conn, error) { return e.tlsDial(t, tcfg) })
		defer tc.Close()
		xc, xr := open("tcp", func() (net.Conn, error) {
			return net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(e.tcpPort), 5*time.Second)
		})
		defer xc.Close()
		for _, s := range []struct {
			c net.Conn
			r *bufio.Reader
		}{{pc, pr}, {tc, tr}, {xc, xr}} {
			exchange(t, s.c, s.r, "before")
		}
		serial := func() string {
			c, err := e.tlsDial(t, tcfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			return c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
		}
		oldSerial := serial()

		// Move db to the kv backend, add the kv passthrough host, rotate tcps' credential.
		writeFile(t, filepath.Join(e.config, "vs.yaml"), l4VirtualServices("kv.backend.internal", true))
		if err := certs.IssueServer(e.pki, l4TCPS, certs.Options{}); err != nil {
			t.Fatal(err)
		}
		ms, err := certs.SecretManifests(e.pki, []string{l4TCPS}, certs.DefaultNamespace)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(e.config, ms[0].Name+".yaml"), string(ms[0].YAML))
		eventually(t, 5*time.Second, "new passthrough host served", func() error {
			c, err := e.tlsDial(t, &tls.Config{ServerName: l4Pass2, RootCAs: roots(t, e.pki, l4Pass2)})
			if err != nil {
				return err
			}
			c.Close()
			return nil
		})
		eventually(t, 5*time.Second, "rotated tcps certificate", func() error {
			if s := serial(); s == oldSerial {
				return fmt.Errorf("still serial %s", s)
			}
			return nil
		})
		// New db connections reach the kv backend (which holds the kv certificate).
		if _, err := e.tlsDial(t, &tls.Config{ServerName: l4Pass, RootCAs: roots(t, e.pki, l4Pass)}); err == nil {
			t.Fatal("db SNI still reaches the db backend after its destination changed")
		}
		// The established streams were not reset and still reach their original backends.
		for _, s := range []struct {
			name string
			c    net.Conn
			r    *bufio.Reader
			want string
		}{{"passthrough", pc, pr, "db:after"}, {"terminated", tc, tr, "ts:after"}, {"tcp", xc, xr, ":after"}} {
			if got := exchange(t, s.c, s.r, "after"); !strings.HasSuffix(got, s.want) {
				t.Fatalf("%s stream after the changes: %q", s.name, got)
			}
		}

		// Removing the kv host's route refuses new kv connections; a kv stream opened
		// before keeps going.
		kc, kr := open("kv", func() (net.Conn, error) {
			return e.tlsDial(t, &tls.Config{ServerName: l4Pass2, RootCAs: roots(t, e.pki, l4Pass2)})
		})
		defer kc.Close()
		exchange(t, kc, kr, "before")
		writeFile(t, filepath.Join(e.config, "vs.yaml"), l4VirtualServices("kv.backend.internal", false))
		eventually(t, 5*time.Second, "kv host no longer routed", func() error {
			c, err := e.tlsDial(t, &tls.Config{ServerName: l4Pass2, RootCAs: roots(t, e.pki, l4Pass2)})
			if err == nil {
				c.Close()
				return fmt.Errorf("still routed")
			}
			return nil
		})
		if got := exchange(t, kc, kr, "after"); got != "kv:after" {
			t.Fatalf("kv stream after its route was removed: %q", got)
		}
	})

	t.Run("metrics and config_dump", func(t *testing.T) {
		resp, err := http.Get("http://" + e.gw.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`portcullis_tcp_connections_opened_total{destination="outbound|7000||a.backend.internal",route="default/tcp/tcp/0"}`,
			`portcullis_tcp_received_bytes_total{destination="outbound|7000||db.backend.internal",route="default/db/tls/0"}`,
			`portcullis_tcp_sent_bytes_total{destination="outbound|7000||ts.backend.internal",route="default/tcps/tcp/0"}`,
			// Istio's standard TCP metrics (on by default) count the same streams.
			`istio_tcp_connections_opened_total{`,
			`destination_service="db.backend.internal"`,
		} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("metrics lack %s", want)
			}
		}
		resp, err = http.Get("http://" + e.gw.admin + "/config_dump")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`"tlsRoutes"`, `"sniHosts"`, `"tcpRoutes"`, `"passthrough": true`} {
			if !bytes.Contains(b, []byte(want)) && !bytes.Contains(b, []byte(strings.ReplaceAll(want, " ", ""))) {
				t.Errorf("config_dump lacks %s", want)
			}
		}
	})
}
