package listener

import (
	"crypto/tls"
	"log/slog"

	"github.com/portcullis/portcullis/internal/dataplane/router"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Server is the TLS runtime of one snapshot Server, built ahead and never mutated.
type Server struct {
	Name  string
	Index int // position in the listener's snapshot Servers
	Mode  snapshot.TLSMode
	// Policy identifies the whole TLS policy: every field of its snapshot.TLS and of its
	// loaded Credential but those excluded with a reason (see policyKeys). Servers with
	// equal Policy may serve each other's hosts on one connection.
	Policy string
	// ClientAuth identifies the client-authentication policy (mode, SANs, CA fingerprint,
	// CRLs).
	ClientAuth string

	// Layer 4 (l4.go): Passthrough servers are never terminated; the connections of TCP
	// servers are streamed after the handshake.
	Passthrough, TCP bool

	config *tls.Config // nil when the server cannot serve
	// config13 is config without session tickets, for clients that will negotiate TLS
	// 1.3 when TLS 1.3 tickets are off (Tickets.TLS13); nil when config serves them too.
	config13 *tls.Config
	failure  string // handshake failure reason when config is nil
}

// Table is the per-SNI TLS table of one HTTPS listener: immutable, swapped as a whole.
type Table struct {
	hosts   *router.Hosts
	servers []*Server
	// passthrough: some server is PASSTHROUGH, so ClientHellos are read first (l4.go).
	passthrough bool
	byName      map[string]*Server
}

// NewTable builds every server's *tls.Config from the current credentials. A server whose
// credential is missing or unusable is kept (its hosts still belong to it) but fails its
// handshakes; this is logged, never fatal to the other servers. tk derives each server's
// session ticket keys.
func NewTable(servers []snapshot.Server, creds Credentials, tk Tickets, logger *slog.Logger) *Table {
	t := &Table{byName: make(map[string]*Server, len(servers))}
	patterns := make([][]string, len(servers))
	for i := range servers {
		srv := &servers[i]
		patterns[i] = srv.Hosts
		s := &Server{Name: srv.Name, Index: i}
		t.servers = append(t.servers, s)
		t.byName[srv.Name] = s
		if srv.Passthrough {
			s.Passthrough, t.passthrough = true, true
			s.Mode = snapshot.TLSPassthrough
			s.Policy, s.ClientAuth = "passthrough|"+srv.Name, "passthrough|"+srv.Name
			s.failure = ReasonProtocol
			continue
		}
		s.TCP = srv.TCP
		if srv.TLS == nil {
			s.failure = ReasonProtocol
			logger.Warn("server has no tls settings on an https listener", "server", srv.Name)
			continue
		}
		var cred Credential
		ok := false
		if creds != nil {
			cred, ok = creds.Lookup(srv.TLS.Credential.Key())
		}
		s.Mode = srv.TLS.Mode
		s.Policy, s.ClientAuth = policyKeys(srv.TLS, cred, ok)
		if s.TCP { // never shares a connection with an HTTP server (Host binding)
			s.Policy = "tcp|" + srv.Name + "|" + s.Policy
		}
		cfg, reason, err := buildConfig(srv, cred, ok, tk)
		if err != nil {
			s.failure = reason
			logger.Warn("server cannot terminate tls", "server", srv.Name, "error", err)
			continue
		}
		s.config = cfg
		if !tk.TLS13 && (cfg.MaxVersion == 0 || cfg.MaxVersion >= tls.VersionTLS13) {
			s.config13 = cfg.Clone()
			s.config13.SessionTicketsDisabled = true
		}
	}
	t.hosts = router.NewHosts(patterns)
	return t
}

// allPassthrough reports whether t has servers and all are PASSTHROUGH.
func (t *Table) allPassthrough() bool {
	for _, s := range t.servers {
		if !s.Passthrough {
			return false
		}
	}
	return len(t.servers) > 0
}

// Lookup returns the server owning name (an SNI or a Host header value): exact host, then
// longest "*.suffix" wildcard, then "*". Nil when none does.
func (t *Table) Lookup(name string) *Server {
	i := t.hosts.Lookup(name)
	if i < 0 || i >= len(t.servers) {
		return nil
	}
	return t.servers[i]
}

// Server returns the server named name, or nil.
func (t *Table) Server(name string) *Server { return t.byName[name] }

// Servers returns the servers in snapshot order.
func (t *Table) Servers() []*Server { return t.servers }

// VerifiesClients reports whether the server requests client certificates and verifies
// those it gets (MUTUAL, OPTIONAL_MUTUAL): only then may a connection's certificate be
// forwarded as the client's verified identity.
func (s *Server) VerifiesClients() bool {
	return s.config != nil && s.config.ClientAuth != tls.NoClientCert && s.config.VerifyConnection != nil
}

// Ready reports whether the server has a usable TLS configuration.
func (s *Server) Ready() bool { return s.config != nil }
