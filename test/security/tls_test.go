package security

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/testkit"
)

// TestSNI: the server is chosen by SNI only among configured hosts; an absent, IP-literal
// or unknown SNI fails the handshake (there is no "*" server), and case or a trailing dot
// never select another server.
func TestSNI(t *testing.T) {
	e := newEnv(t, nil)
	served := func(t *testing.T, sni, want string) {
		t.Helper()
		r, err := hello(e.addr(), tls.VersionTLS12, []byte(sni))
		if err != nil {
			t.Fatal(err)
		}
		if r.alert >= 0 || r.cert == nil || !slices.Contains(r.cert.DNSNames, want) {
			t.Fatalf("SNI %q: %s, want the certificate of %s", sni, r, want)
		}
	}
	refused := func(t *testing.T, sni []byte, alerts ...int) {
		t.Helper()
		r, err := hello(e.addr(), tls.VersionTLS12, sni)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(alerts, r.alert) {
			t.Fatalf("SNI %q: %s, want alert %v", sni, r, alerts)
		}
	}
	for _, h := range allHosts {
		t.Run("control "+h, func(t *testing.T) { served(t, h, h) })
	}
	t.Run("upper case", func(t *testing.T) { served(t, strings.ToUpper(inv), inv) })
	t.Run("mixed case", func(t *testing.T) { served(t, "Frontend.FooCorp.com", fe) })
	t.Run("trailing dot", func(t *testing.T) {
		// RFC 6066 §3: "the hostname is represented ... without a trailing dot". crypto/tls
		// rejects such a ClientHello as malformed.
		refused(t, []byte(fe+"."), alertDecodeError)
	})
	t.Run("with port (normalized like a Host header: same server)", func(t *testing.T) { served(t, fe+":443", fe) })
	t.Run("no SNI", func(t *testing.T) { refused(t, nil, alertUnrecognizedName) })
	unknown := map[string]string{
		"IPv4 literal":            "127.0.0.1",
		"IPv6 literal":            "::1",
		"bracketed IPv6":          "[::1]",
		"wildcard pattern":        "*.foocorp.com",
		"star":                    "*",
		"parent domain":           "foocorp.com",
		"sub-domain":              "x." + fe,
		"host as prefix":          fe + ".evil.com",
		"NUL then another name":   fe + "\x00" + inv,
		"255 bytes":               strings.Repeat("a", 235) + ".foocorp.com",
		"empty label":             "frontend..foocorp.com",
		"percent-encoded":         "frontend%2efoocorp.com",
		"unicode lookalike":       "frontend.foocorp.com\u200b",
		"leading dot":             "." + fe,
		"space":                   "frontend.foocorp.com inventory.foocorp.com",
		"comma list":              fe + "," + inv,
		"two trailing dots":       fe + "..",
		"only a dot":              ".",
		"IPv4 with trailing dot":  "127.0.0.1.",
		"numeric IPv4 shorthands": "2130706433",
	}
	for name, sni := range unknown {
		t.Run("unknown: "+name, func(t *testing.T) {
			refused(t, []byte(sni), alertUnrecognizedName, alertDecodeError, alertIllegalParameter)
		})
	}
	t.Run("empty SNI extension", func(t *testing.T) {
		refused(t, []byte{}, alertUnrecognizedName, alertDecodeError)
	})

	t.Run("crypto/tls client: upper-case SNI is the same server, still bound", func(t *testing.T) {
		rc := e.open(t, "FRONTEND.FOOCORP.COM", fe)
		resp, body := rc.do(get("/", fe))
		mustEcho(t, resp, body, "frontend")
		resp, body = rc.do(get("/", inv))
		mustStatus(t, resp, body, 421)
	})
	t.Run("crypto/tls client: upper-case SNI of a MUTUAL host without a certificate", func(t *testing.T) {
		mustFailHandshake(t, e, e.tlsConfig("INVENTORY.FOOCORP.COM", ""))
	})
	t.Run("OPTIONAL_MUTUAL with a certificate of another CA", func(t *testing.T) {
		mustFailHandshake(t, e, e.tlsConfig(opt, fe))
	})
	t.Run("MUTUAL with the host's own server certificate as client certificate (EKU serverAuth)", func(t *testing.T) {
		cfg := e.tlsConfig(fe, "")
		p := certs.PathsFor(e.pki, fe)
		c, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
		mustFailHandshake(t, e, cfg)
	})
	t.Run("MUTUAL with the other MUTUAL host's client certificate", func(t *testing.T) {
		mustFailHandshake(t, e, e.tlsConfig(inv, fe))
		mustFailHandshake(t, e, e.tlsConfig(fe, inv))
	})
	t.Run("crypto/tls client: no SNI", func(t *testing.T) {
		cfg := e.tlsConfig("", fe)
		cfg.InsecureSkipVerify = true
		mustFailHandshake(t, e, cfg)
	})
}

// mustFailHandshake wants the handshake, or (TLS 1.3 reports a rejected client
// certificate after it) the first request, to fail.
func mustFailHandshake(t *testing.T, e *env, cfg *tls.Config) {
	t.Helper()
	c, err := e.dial(cfg)
	if err != nil {
		return
	}
	defer c.Close()
	if _, err := io.WriteString(c, get("/", cfg.ServerName)); err != nil {
		return
	}
	if b, err := io.ReadAll(c); err == nil || len(b) > 0 {
		t.Fatalf("handshake with SNI %q succeeded; got %.200q", cfg.ServerName, b)
	}
}

// TestProtocolVersions: TLS 1.0 and 1.1 (and SSL 3.0) are refused by default on every
// server; TLS 1.2 is the minimum; renegotiation is refused.
func TestProtocolVersions(t *testing.T) {
	e := newEnv(t, nil)
	for _, h := range allHosts {
		for name, v := range map[string]uint16{"SSL 3.0": 0x0300, "TLS 1.0": tls.VersionTLS10, "TLS 1.1": tls.VersionTLS11} {
			t.Run(h+" "+name+" ClientHello", func(t *testing.T) {
				r, err := hello(e.addr(), v, []byte(h))
				if err != nil {
					t.Fatal(err)
				}
				if r.alert != alertProtocolVersion {
					t.Fatalf("%s, want alert protocol_version", r)
				}
			})
		}
		t.Run(h+" crypto/tls client capped at TLS 1.1", func(t *testing.T) {
			cfg := e.tlsConfig(h, h)
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			if c, err := e.dial(cfg); err == nil {
				c.Close()
				t.Fatal("TLS 1.1 handshake succeeded")
			}
		})
		t.Run(h+" TLS 1.2 accepted", func(t *testing.T) {
			cfg := e.tlsConfig(h, h)
			cfg.MaxVersion = tls.VersionTLS12
			c, err := e.dial(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		})
	}
	t.Run("renegotiation refused (openssl s_client R)", func(t *testing.T) {
		renegotiate(t, e, pub)
	})
}

// renegotiate asks openssl s_client to renegotiate a TLS 1.2 connection and wants the
// server to refuse it.
func renegotiate(t *testing.T, e *env, host string) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", e.addr(), "-servername", host,
		"-tls1_2")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the handshake, then send s_client's renegotiate command.
	testkit.Eventually(t, 5*time.Second, "openssl handshake", func() error {
		if !strings.Contains(out.String(), "Verify return code") {
			return errors.New("no handshake yet")
		}
		return nil
	})
	_, _ = io.WriteString(stdin, "R\n")
	_ = cmd.Wait() // s_client exits when the server refuses and closes (or ctx kills it)
	s := out.String()
	if !strings.Contains(s, "RENEGOTIATING") {
		t.Fatalf("openssl did not try to renegotiate:\n%s", s)
	}
	// crypto/tls answers a ClientHello on an established connection with a fatal alert
	// (unexpected_message) and closes it.
	_, after, _ := strings.Cut(s, "RENEGOTIATING")
	if !strings.Contains(after, "alert") || strings.Contains(after, "Verify return code") {
		t.Fatalf("renegotiation was not refused with an alert:\n%s", s)
	}
}
