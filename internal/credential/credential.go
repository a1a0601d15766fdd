package credential

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Credential is one validated version of a server's key material. It is immutable once
// published: readers on the handshake path share it without locks.
//
// Key material never prints: String, LogValue and MarshalJSON render only the display
// fields, so a Credential is safe to log, dump or put in an error.
type Credential struct {
	// Key is Ref.Key(), the identity the listener looks credentials up by.
	Key string
	Ref snapshot.CredentialRef
	// Version is a content hash of the inputs (certificate, key, CA, CRL bytes).
	Version string
	// Source says where the material came from, e.g. "secret istio-system/frontend-credential".
	Source string

	// Certificate is the chain as served (leaf first, then the intermediates from the
	// certificate input) with its private key; Leaf is set.
	Certificate *tls.Certificate
	// ClientCAs verifies client certificates; nil when the credential has no CA bundle.
	ClientCAs *x509.CertPool
	// CAFingerprint is the hex sha256 of the CA bundle bytes ("" without CA). Listeners
	// key session-ticket keys with it so a CA change invalidates old tickets.
	CAFingerprint string
	// CRLs are revocation lists, each verified to be signed by a certificate of the CA bundle.
	CRLs []*x509.RevocationList

	// Display fields of the leaf certificate.
	Serial    string // hex
	Subject   string
	Issuer    string
	DNSNames  []string
	SANs      []string // every SAN (DNS, IP, URI, email) as a string
	NotBefore time.Time
	NotAfter  time.Time

	chain      []*x509.Certificate // parsed Certificate.Certificate, for validity checks
	certOrigin Origin              // where the certificate came from, for errors
}

// view is what a Credential shows of itself: everything but the key material.
type view struct {
	Key           string    `json:"key"`
	Version       string    `json:"version"`
	Source        string    `json:"source"`
	Serial        string    `json:"serial"`
	Subject       string    `json:"subject"`
	Issuer        string    `json:"issuer"`
	DNSNames      []string  `json:"dnsNames,omitempty"`
	SANs          []string  `json:"sans,omitempty"`
	NotBefore     time.Time `json:"notBefore"`
	NotAfter      time.Time `json:"notAfter"`
	ChainLength   int       `json:"chainLength"`
	CAFingerprint string    `json:"caFingerprint,omitempty"`
	CRLs          int       `json:"crls,omitempty"`
}

func (c Credential) view() view {
	n := 0
	if c.Certificate != nil {
		n = len(c.Certificate.Certificate)
	}
	return view{
		Key: c.Key, Version: c.Version, Source: c.Source, Serial: c.Serial,
		Subject: c.Subject, Issuer: c.Issuer, DNSNames: c.DNSNames, SANs: c.SANs,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, ChainLength: n,
		CAFingerprint: c.CAFingerprint, CRLs: len(c.CRLs),
	}
}

// String renders the display fields only (used by %v, %+v and %s).
func (c Credential) String() string {
	return fmt.Sprintf("credential %s version=%s source=%q serial=%s subject=%q not_after=%s key=[redacted]",
		c.Key, c.Version, c.Source, c.Serial, c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from dumping the private key.
func (c Credential) GoString() string { return c.String() }

// Format implements fmt.Formatter so that no verb (%v, %+v, %#v, %s, %q, %x ...) can
// reach the struct fields and their key material.
func (c Credential) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte(c.String()))
}

// LogValue implements slog.LogValuer: a group of display fields.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key", c.Key),
		slog.String("version", c.Version),
		slog.String("source", c.Source),
		slog.String("serial", c.Serial),
		slog.String("subject", c.Subject),
		slog.Time("not_after", c.NotAfter),
	)
}

// MarshalJSON renders the display fields only.
func (c Credential) MarshalJSON() ([]byte, error) { return json.Marshal(c.view()) }
