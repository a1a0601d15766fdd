package listener

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// policyKeys returns the identity of a server's whole TLS policy and of its client-auth
// part. Two servers with equal policy keys accept exactly the same clients with the same
// certificate, so a request for one may be served on the other's connection.
func policyKeys(t *snapshot.TLS, cred Credential, haveCred bool) (policy, clientAuth string) {
	var b strings.Builder
	b.WriteString(string(t.Mode))
	b.WriteString("|ca=")
	b.WriteString(cred.CAFingerprint)
	b.WriteString("|sans=")
	b.WriteString(strings.Join(t.SubjectAltNames, ","))
	b.WriteString("|crl=")
	for _, crl := range cred.CRLs {
		sum := sha256.Sum256(crl.Raw)
		b.WriteString(hex.EncodeToString(sum[:8]))
		b.WriteByte(',')
	}
	clientAuth = b.String()
	b.WriteString("|cred=")
	b.WriteString(t.Credential.Key())
	b.WriteString("@")
	if haveCred {
		b.WriteString(cred.Version)
	} else {
		b.WriteString("<missing>")
	}
	fmt.Fprintf(&b, "|v=%d-%d|suites=", t.MinVersion, t.MaxVersion)
	for _, s := range t.CipherSuites {
		b.WriteString(strconv.Itoa(int(s)))
		b.WriteByte(',')
	}
	return b.String(), clientAuth
}

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
		CipherSuites: slices.Clone(t.CipherSuites),
		NextProtos:   nextProtos(t.CipherSuites),
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
		cfg.VerifyConnection = newVerifier(srv.Name, cred.ClientCAs, t.SubjectAltNames, cred.CRLs).verifyConnection
	default:
		return nil, ReasonNoCredential, fmt.Errorf("server %s: unsupported TLS mode %q", srv.Name, t.Mode)
	}
	_, clientAuth := policyKeys(t, cred, true)
	cfg.SetSessionTicketKeys(tk.keys(srv.Name, clientAuth, t.Credential.Key(), cred.Version))
	return cfg, "", nil
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
