package upstream

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
)

// HeaderXFCC is the header carrying the verified client certificate to the backend.
const HeaderXFCC = "X-Forwarded-Client-Cert"

// ClientCertHeader formats a verified client certificate as Envoy/Istio do with
// forward_client_cert_details SANITIZE_SET and subject, URI and DNS details:
//
//	Hash=<sha256 hex of the leaf DER>;Subject="<RFC 2253 subject>";URI=<uri>;DNS=<dns>
//
// URI and DNS repeat per SAN. Values containing ',', ';', '=' or '"' are quoted, with '"'
// and '\' escaped.
func ClientCertHeader(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.Raw)
	var b strings.Builder
	b.Grow(128)
	b.WriteString("Hash=")
	b.WriteString(hex.EncodeToString(sum[:]))
	b.WriteString(";Subject=")
	b.WriteString(quote(leaf.Subject.String()))
	for _, u := range leaf.URIs {
		b.WriteString(";URI=")
		b.WriteString(value(u.String()))
	}
	for _, d := range leaf.DNSNames {
		b.WriteString(";DNS=")
		b.WriteString(value(d))
	}
	return b.String()
}

func value(s string) string {
	if strings.ContainsAny(s, `,;="\`) {
		return quote(s)
	}
	return s
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
