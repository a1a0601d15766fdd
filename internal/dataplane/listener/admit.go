package listener

import (
	"crypto/tls"
	"errors"
)

// Admitted reports whether a request on this connection may be served by cur, the
// current version of the Server its handshake selected. When the server's client-auth
// policy (mode, CA bundle, SANs, CRLs) is unchanged since the handshake, it may. When it
// changed (CredentialsChanged after a CA rotation or a new CRL), the connection's client
// certificate is re-verified against the current policy, once per policy version: a
// client the new policy still accepts keeps its connection, a revoked or no longer
// trusted one is refused (the handler answers 421, and a new handshake fails).
func (c *Conn) Admitted(cur *Server, cs *tls.ConnectionState) bool {
	sel := c.Server()
	if sel == nil || cur == nil || cs == nil {
		return false
	}
	if cur.ClientAuth == sel.ClientAuth {
		return true
	}
	if p := c.admitted.Load(); p != nil && *p == cur.ClientAuth {
		return true
	}
	if cur.admit(cs) != nil {
		return false
	}
	key := cur.ClientAuth
	c.admitted.Store(&key)
	return true
}

// admit checks an established connection's client certificate against s's policy as a
// handshake with s would: presence as the mode requires, then the chain against the
// current CAs, SANs and CRLs (the Server's VerifyConnection).
func (s *Server) admit(cs *tls.ConnectionState) error {
	cfg := s.config
	if cfg == nil {
		return errors.New("server cannot terminate tls")
	}
	if cfg.ClientAuth == tls.NoClientCert {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		if cfg.ClientAuth == tls.RequireAnyClientCert {
			return errors.New("client certificate required")
		}
		return nil
	}
	if cfg.VerifyConnection == nil { // cannot happen: buildConfig sets it with client auth
		return errors.New("server has no client certificate verifier")
	}
	return cfg.VerifyConnection(*cs)
}
