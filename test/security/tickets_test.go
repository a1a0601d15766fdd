package security

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// stickyCache is a hostile client session cache: it offers the last session it was given
// to every server name, so a ticket issued for one host is presented with another's SNI.
type stickyCache struct {
	mu   sync.Mutex
	last *tls.ClientSessionState
	gets int // lookups that returned a session (a ticket was offered)
}

func (c *stickyCache) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return nil, false
	}
	c.gets++
	return c.last, true
}

func (c *stickyCache) Put(_ string, s *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s != nil {
		c.last = s
	}
}

func (c *stickyCache) offered() int { c.mu.Lock(); defer c.mu.Unlock(); return c.gets }

// ticketClient is a config for sni presenting certHost's certificate, sharing cache, not
// verifying the server (crypto/tls would otherwise refuse to offer a session whose
// certificate does not match the new name — an attacker has no such scruple).
func (e *env) ticketClient(sni, certHost string, version uint16, cache *stickyCache) *tls.Config {
	cfg := e.tlsConfig(sni, certHost)
	cfg.InsecureSkipVerify = true
	cfg.MinVersion, cfg.MaxVersion = version, version
	cfg.ClientSessionCache = cache
	return cfg
}

// exchange makes one request to host on a new connection with cfg; it returns whether
// the session resumed, and the response (nil when the handshake or request failed).
func (e *env) exchange(cfg *tls.Config, host string) (resumed bool, s *seen, err error) {
	c, err := e.dial(cfg)
	if err != nil {
		return false, nil, err
	}
	defer c.Close()
	rc := &rawConn{t: e.t, c: c, br: bufio.NewReader(c)}
	rc.send(get("/", host))
	resp, body, err := rc.response()
	if err != nil {
		return c.ConnectionState().DidResume, nil, err
	}
	got, ok := echoed(resp, body)
	if resp.StatusCode != http.StatusOK || !ok {
		return c.ConnectionState().DidResume, nil, fmt.Errorf("status %d: %.100q", resp.StatusCode, body)
	}
	return c.ConnectionState().DidResume, &got, nil
}

// TestSessionResumptionAcrossHosts: a session ticket issued on one server never resumes on
// another, so it can never skip that server's client-certificate check.
func TestSessionResumptionAcrossHosts(t *testing.T) {
	e := newEnv(t, nil)
	versions := map[string]uint16{"TLS 1.2": tls.VersionTLS12, "TLS 1.3": tls.VersionTLS13}
	for vname, v := range versions {
		t.Run(vname+"/control: a ticket resumes on its own host", func(t *testing.T) {
			for _, h := range []string{pub, fe} {
				cache := &stickyCache{}
				cert := ""
				if h == fe {
					cert = fe
				}
				if _, _, err := e.exchange(e.ticketClient(h, cert, v, cache), h); err != nil {
					t.Fatal(err)
				}
				resumed, s, err := e.exchange(e.ticketClient(h, cert, v, cache), h)
				if err != nil || !resumed {
					t.Fatalf("%s: resumed=%v err=%v: the attacks below would prove nothing", h, resumed, err)
				}
				if h == fe {
					// The identity survives resumption (crypto/tls re-verifies the chain).
					checkXFCC(t, s.Header, e.wantXFCC(fe))
				}
			}
		})
		attacks := []struct {
			name              string
			fromSNI, fromCert string
			toSNI, toCert     string
			mustFail          bool // the full handshake that replaces resumption must fail
		}{
			{"SIMPLE ticket to a MUTUAL host, no certificate", pub, "", inv, "", true},
			{"SIMPLE ticket to the other MUTUAL host, no certificate", pub, "", fe, "", true},
			{"frontend ticket to inventory, frontend certificate", fe, fe, inv, fe, true},
			{"frontend ticket to inventory, no certificate", fe, fe, inv, "", true},
			{"OPTIONAL_MUTUAL ticket with its certificate to a MUTUAL host", opt, opt, fe, "", true},
			{"MUTUAL ticket to the SIMPLE host", fe, fe, pub, "", false},
			{"SIMPLE ticket to the OPTIONAL_MUTUAL host", pub, "", opt, "", false},
			{"MUTUAL ticket to the OPTIONAL_MUTUAL host, no certificate", fe, fe, opt, "", false},
		}
		for _, a := range attacks {
			t.Run(vname+"/"+a.name, func(t *testing.T) {
				cache := &stickyCache{}
				if _, _, err := e.exchange(e.ticketClient(a.fromSNI, a.fromCert, v, cache), a.fromSNI); err != nil {
					t.Fatalf("obtaining the ticket: %v", err)
				}
				before := e.echo.count()
				resumed, s, err := e.exchange(e.ticketClient(a.toSNI, a.toCert, v, cache), a.toSNI)
				if cache.offered() == 0 {
					t.Fatal("the client never offered the ticket")
				}
				if resumed {
					t.Fatalf("resumed a %s session on %s", a.fromSNI, a.toSNI)
				}
				if a.mustFail {
					if err == nil {
						t.Fatalf("served %+v", s)
					}
					if n := len(e.echo.since(before)); n > 0 {
						t.Fatalf("%d requests reached a backend", n)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				// Served by a full handshake: no identity from the ticket's session.
				checkXFCC(t, s.Header, "")
			})
		}
	}
}
