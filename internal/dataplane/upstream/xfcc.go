package upstream

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"strings"
)

// HeaderXFCC is the header carrying the verified client certificate to the backend.
const HeaderXFCC = "X-Forwarded-Client-Cert"

// ClientCertHeader formats a verified client certificate as Envoy/Istio do with
// forward_client_cert_details SANITIZE_SET and subject, URI and DNS details:
//
//	Hash=<sha256 hex of the leaf DER>;Subject="<RFC 2253 subject>";URI=<uri>;DNS=<dns>
//
// URI and DNS repeat per SAN. URI and DNS values containing ',', ';', '=', '"' or '\' are
// quoted, with '"' and '\' escaped.
func ClientCertHeader(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.Raw)
	var b strings.Builder
	b.Grow(128)
	b.WriteString("Hash=")
	b.WriteString(hex.EncodeToString(sum[:]))
	// The RFC 2253 subject already escapes '"', '\', ',' and ';' with a backslash, so it is
	// wrapped in quotes as is (as Envoy does).
	b.WriteString(`;Subject="`)
	b.WriteString(leaf.Subject.String())
	b.WriteByte('"')
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
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// dropLookalikes removes client headers that differ from a header the gateway sets only by
// '_' for '-' (X_Forwarded_Client_Cert, x_forwarded_for): CGI, WSGI, PHP, Rack and many
// frameworks read both spellings as the same variable (HTTP_X_FORWARDED_CLIENT_CERT), so
// such a header would let a client supply the identity the backend trusts as the
// gateway's. ReverseProxy and Rewrite already replace the dash spellings.
func dropLookalikes(h http.Header) {
	for k := range h {
		if lookalike(k) {
			delete(h, k)
		}
	}
}
