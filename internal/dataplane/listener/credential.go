package listener

import (
	"crypto/tls"
	"crypto/x509"
)

// Credential is the parsed, validated key material of one snapshot.CredentialRef, as the
// listener consumes it. The credential store's values are adapted to it by the caller.
// A Credential is treated as immutable once returned by Lookup.
type Credential struct {
	// Certificate is the server certificate chain and private key. Required.
	Certificate *tls.Certificate
	// ClientCAs verifies client certificates (MUTUAL and OPTIONAL_MUTUAL). Nil when the
	// credential carries no CA bundle.
	ClientCAs *x509.CertPool
	// CAFingerprint identifies the CA bundle (e.g. sha256 of its PEM); "" without CA. It is
	// mixed into the session ticket keys so a CA change invalidates old tickets.
	CAFingerprint string
	// CRLs revoke client certificates: a certificate listed by a CRL of its issuer is
	// rejected. The store is expected to have checked the CRL signatures.
	CRLs []*x509.RevocationList
	// Version changes whenever any of the material above changes.
	Version string
}

// Credentials resolves a credential by snapshot.CredentialRef.Key(). ok is false when the
// credential is missing or invalid; the servers using it then fail their handshakes
// (fail closed) while other servers are unaffected. Implementations must be safe for
// concurrent use.
type Credentials interface {
	Lookup(key string) (Credential, bool)
}
