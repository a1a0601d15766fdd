package listener

import (
	"crypto/tls"
	"fmt"
	"slices"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// buildConfig builds one Server's immutable *tls.Config. It returns a failure reason
// instead when the server cannot serve (fail closed: only this server's handshakes fail).
func buildConfig(srv *snapshot.Server, cred Credential, haveCred bool, tk Tickets) (*tls.Config, string, error) {
	t := srv.TLS
	if !haveCred || cred.Certificate == nil {
		return nil, ReasonNoCredential, fmt.Errorf("server %s: credential %q is not available", srv.Name, t.Credential.Key())
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{*cred.Certificate},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   t.MaxVersion,
		CipherSuites: cipherSuites(t.CipherSuites),
		NextProtos:   nextProtos(t.CipherSuites),
		Time:         tk.Now,
	}
	if t.MinVersion != 0 {
		cfg.MinVersion = t.MinVersion
	}
	switch t.Mode {
	case snapshot.TLSSimple, "":
		cfg.ClientAuth = tls.NoClientCert
	case snapshot.TLSMutual, snapshot.TLSOptionalMutual:
		if cred.ClientCAs == nil {
			return nil, ReasonNoCredential, fmt.Errorf("server %s: credential %q has no CA certificates for mode %s", srv.Name, t.Credential.Key(), t.Mode)
		}
		// crypto/tls requests (MUTUAL: requires) the client certificate; the verifier checks
		// its chain against ClientCAs as RequireAndVerifyClientCert would, remembering
		// verified chains (see chainVerifier), then SANs and CRLs. ClientCAs still names
		// the acceptable CAs in the CertificateRequest.
		cfg.ClientAuth = tls.RequireAnyClientCert
		if t.Mode == snapshot.TLSOptionalMutual {
			cfg.ClientAuth = tls.RequestClientCert
		}
		cfg.ClientCAs = cred.ClientCAs
		cfg.VerifyConnection = newVerifier(srv.Name, cred.ClientCAs, t.SubjectAltNames, cred.CRLs, tk.now).verifyConnection
	default:
		return nil, ReasonNoCredential, fmt.Errorf("server %s: unsupported TLS mode %q", srv.Name, t.Mode)
	}
	// The ticket keys are per server and per whole policy: a ticket never resumes on
	// another server, nor after any change of this one's policy or credential.
	policy, _ := policyKeys(t, cred, true)
	cfg.SetSessionTicketKeys(tk.keys(srv.Name, policy))
	cfg.UnwrapSession = tk.unwrap(cfg)
	return cfg, "", nil
}

// defaultCipherSuites are the TLS 1.2 suites offered when the Gateway names none: ECDHE
// key exchange with AEAD ciphers only. Go's own default list also offers the CBC-SHA
// suites (LUCKY13-class padding oracles, no AEAD), which scanners rate weak; every
// client that speaks TLS 1.2 with ECDHE supports AES-GCM. TLS 1.3 suites are not
// configurable in crypto/tls and are all AEAD.
func defaultCipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// cipherSuites is the configured TLS 1.2 list, or the AEAD-only default when none is.
func cipherSuites(configured []uint16) []uint16 {
	if len(configured) == 0 {
		return defaultCipherSuites()
	}
	return slices.Clone(configured)
}

// nextProtos offers h2 unless configured TLS 1.2 suites leave HTTP/2 without the suite it
// requires (RFC 7540 9.2.2); clients would otherwise fail with INADEQUATE_SECURITY.
func nextProtos(suites []uint16) []string {
	if len(suites) == 0 || slices.ContainsFunc(suites, func(s uint16) bool {
		return s == tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 || s == tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	}) {
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}
