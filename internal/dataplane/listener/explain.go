package listener

import "crypto/tls"

// Admit checks a client certificate (cs.PeerCertificates, leaf first) against s's
// client-authentication policy exactly as a handshake with s would (presence as the mode
// requires, chain against the current CAs, SANs, CRLs): nil when s would accept it. It is
// what `portcullis explain` uses, so its verdict is the listener's.
func (s *Server) Admit(cs *tls.ConnectionState) error { return s.admit(cs) }

// Failure is why s cannot terminate TLS (a Reason* constant), "" when it can.
func (s *Server) Failure() string { return s.failure }
