package listener_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// clock is a handshake clock the test moves forward instead of sleeping.
type clock struct{ skew atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *clock) advance(d time.Duration) { c.skew.Add(int64(d)) }
func (c *clock) tickets() listener.Tickets {
	return listener.Tickets{Secret: []byte("x"), Epoch: 7, Now: c.now, TLS13: true}
}

// simpleTLS starts a listener with one SIMPLE server for host, TLS 1.2 suites as given
// (nil: the default), and returns its address and a client config trusting it.
func simpleTLS(t *testing.T, suites []uint16, tk listener.Tickets) (string, *tls.Config) {
	t.Helper()
	ca := testpki.NewCA(t, "test ca")
	ref := snapshot.CredentialRef{Secret: "ns/cert"}
	tab := listener.NewTable([]snapshot.Server{{Name: "s", Hosts: []string{host},
		TLS: &snapshot.TLS{Mode: snapshot.TLSSimple, Credential: ref, CipherSuites: suites}}},
		creds{ref.Key(): testpki.Credential(ca.Server(t, host))}, tk, slog.New(slog.DiscardHandler))
	f := start(t, false, echo, func(c *listener.Config) { c.TLS = func() *listener.Table { return tab } })
	return f.l.Addr().String(), &tls.Config{RootCAs: ca.Pool, ServerName: host, NextProtos: []string{"http/1.1"}}
}

// TestDefaultTLS12SuitesAreAEAD asks OpenSSL for each TLS 1.2 suite on its own: with no
// Gateway cipherSuites only ECDHE with AES-GCM or ChaCha20-Poly1305 is accepted; the CBC
// suites Go would otherwise offer are refused. An explicit list is still honoured.
func TestDefaultTLS12SuitesAreAEAD(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	accepts := func(addr, cipher string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-servername", host,
			"-tls1_2", "-cipher", cipher)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		ok := err == nil && strings.Contains(string(out), "Cipher is "+cipher)
		if !ok && err == nil {
			t.Fatalf("openssl %s: exit 0 without negotiating it:\n%s", cipher, out)
		}
		return ok
	}
	addr, _ := simpleTLS(t, nil, listener.Tickets{Secret: []byte("x")})
	for cipher, want := range map[string]bool{
		"ECDHE-ECDSA-AES128-GCM-SHA256": true,
		"ECDHE-ECDSA-AES256-GCM-SHA384": true,
		"ECDHE-ECDSA-CHACHA20-POLY1305": true,
		"ECDHE-ECDSA-AES128-SHA":        false,
		"ECDHE-ECDSA-AES256-SHA":        false,
		"ECDHE-ECDSA-AES128-SHA256":     false,
	} {
		if got := accepts(addr, cipher); got != want {
			t.Errorf("default suites: %s accepted=%v, want %v", cipher, got, want)
		}
	}

	explicit, _ := simpleTLS(t, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, listener.Tickets{Secret: []byte("x")})
	if !accepts(explicit, "ECDHE-ECDSA-AES128-SHA") {
		t.Error("an explicitly configured CBC suite is not honoured")
	}
	if accepts(explicit, "ECDHE-ECDSA-AES128-GCM-SHA256") {
		t.Error("a suite outside the explicit list is accepted")
	}
}

// TestTicketsExpireAfterADay: a session resumes within listener.MaxTicketAge and not
// after it, for TLS 1.2 and 1.3, although crypto/tls alone would accept it for 7 days
// and the ticket keys are unchanged.
func TestTicketsExpireAfterADay(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			clk := &clock{}
			addr, cc := simpleTLS(t, nil, clk.tickets())
			cc.MaxVersion = v
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			if roundTrip(t, addr, cc) {
				t.Fatal("the first connection resumed")
			}
			if !roundTrip(t, addr, cc) {
				t.Fatal("a fresh ticket did not resume; the test proves nothing")
			}
			// Each resumption may issue a new ticket (TLS 1.3 always does), so start again
			// from a ticket issued now, then age it past the bound.
			clk.advance(listener.MaxTicketAge - time.Minute)
			if !roundTrip(t, addr, cc) {
				t.Fatal("a ticket younger than MaxTicketAge did not resume")
			}
			clk.advance(2 * time.Minute)
			if v == tls.VersionTLS13 {
				// The TLS 1.3 resumption above issued a new ticket, 1 minute old at most.
				clk.advance(listener.MaxTicketAge)
			}
			if roundTrip(t, addr, cc) {
				t.Fatal("a ticket older than MaxTicketAge resumed")
			}
			if !roundTrip(t, addr, cc) {
				t.Fatal("the full handshake after the refused ticket did not issue a usable one")
			}
		})
	}
}

// roundTrip makes one request on a new connection (reading the response also reads a
// TLS 1.3 ticket sent after the handshake) and reports whether the session resumed.
func roundTrip(t *testing.T, addr string, cc *tls.Config) bool {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, get("/")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return c.ConnectionState().DidResume
}
