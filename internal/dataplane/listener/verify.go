package listener

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// Handshake failure reasons reported to the observer.
const (
	ReasonUnknownSNI    = "unknown_sni"
	ReasonNoClientCert  = "no_client_cert"
	ReasonBadClientCert = "bad_client_cert"
	ReasonNoCredential  = "no_credential"
	ReasonProtocol      = "protocol"
)

// VerifyError is returned from a Server's VerifyConnection when a client certificate fails
// its checks: chain, SANs or revocation.
type VerifyError struct {
	Server string
	Reason string // a Reason* constant
	Detail string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("server %s: client certificate rejected: %s", e.Server, e.Detail)
}

// verifier holds a Server's client-certificate checks: the chain against the client CAs
// (see chainVerifier; crypto/tls is configured to request certificates without verifying
// them, so that verified chains can be remembered), then SANs and revocation. It runs for
// full handshakes and for resumptions alike (crypto/tls calls VerifyConnection for both),
// so a resumed session's chain is verified against the current CAs too.
type verifier struct {
	server  string
	chains  *chainVerifier
	sans    map[string]struct{}
	revoked map[string]struct{} // revocationKey(issuer, serial)
}

func newVerifier(server string, roots *x509.CertPool, sans []string, crls []*x509.RevocationList, now func() time.Time) *verifier {
	v := &verifier{server: server, chains: newChainVerifier(roots, now)}
	if len(sans) > 0 {
		v.sans = make(map[string]struct{}, len(sans))
		for _, s := range sans {
			v.sans[s] = struct{}{}
		}
	}
	for _, crl := range crls {
		for _, e := range crl.RevokedCertificateEntries {
			if v.revoked == nil {
				v.revoked = make(map[string]struct{})
			}
			v.revoked[revocationKey(crl.RawIssuer, e.SerialNumber.Bytes())] = struct{}{}
		}
	}
	return v
}

func revocationKey(rawIssuer, serial []byte) string {
	return string(rawIssuer) + "\x00" + string(serial)
}

func (v *verifier) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		// No client certificate: crypto/tls already enforced MUTUAL (RequireAnyClientCert);
		// OPTIONAL_MUTUAL allows it.
		return nil
	}
	chains, err := v.chains.verify(cs.PeerCertificates)
	if err != nil {
		return &VerifyError{Server: v.server, Reason: ReasonBadClientCert,
			Detail: "certificate chain does not verify: " + err.Error()}
	}
	return v.checkPolicy(cs.PeerCertificates[0], chains)
}

// checkPolicy applies the SAN and revocation checks to a verified client certificate.
func (v *verifier) checkPolicy(leaf *x509.Certificate, chains [][]*x509.Certificate) error {
	if v.sans != nil && !v.sanAllowed(leaf) {
		return &VerifyError{Server: v.server, Reason: ReasonBadClientCert,
			Detail: "no subject alternative name is allowed"}
	}
	if v.revoked != nil {
		// Check the leaf and every certificate of every verified chain, trust anchors
		// included: with the usual CA bundle (intermediate + root) x509.Verify ends the
		// chain at the intermediate, which a CRL of the root may revoke. A revoked
		// certificate is revoked whichever path verified it.
		check := append([][]*x509.Certificate{{leaf}}, chains...)
		for _, chain := range check {
			for _, c := range chain {
				if _, bad := v.revoked[revocationKey(c.RawIssuer, c.SerialNumber.Bytes())]; bad {
					return &VerifyError{Server: v.server, Reason: ReasonBadClientCert,
						Detail: fmt.Sprintf("certificate serial %s is revoked", c.SerialNumber)}
				}
			}
		}
	}
	return nil
}

// sanAllowed: any SAN of the certificate (DNS, URI, email or IP) equals one listed.
func (v *verifier) sanAllowed(c *x509.Certificate) bool {
	has := func(s string) bool { _, ok := v.sans[s]; return ok }
	for _, s := range c.DNSNames {
		if has(s) {
			return true
		}
	}
	for _, s := range c.EmailAddresses {
		if has(s) {
			return true
		}
	}
	for _, ip := range c.IPAddresses {
		if has(ip.String()) {
			return true
		}
	}
	for _, u := range c.URIs {
		if has(u.String()) {
			return true
		}
	}
	return false
}
