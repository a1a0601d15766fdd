package credential

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// caBundle is a parsed CA bundle, shared by every credential with identical CA bytes.
type caBundle struct {
	pool        *x509.CertPool
	certs       []*x509.Certificate
	fingerprint string
}

// caLookup returns the parsed bundle for some CA bytes, parsing them at most once.
type caLookup func(p part) (*caBundle, error)

// parse builds a Credential from its inputs. It does not look at the clock (validity is
// checked separately), so its result can be cached by input hash.
func parse(in input, version string, cas caLookup) (*Credential, error) {
	var errs []error
	var cert *tls.Certificate
	var chain []*x509.Certificate
	var err error
	if !in.ref.CAOnly {
		if cert, chain, err = parsePair(in.cert, in.key); err != nil {
			errs = append(errs, err)
		}
	}
	var ca *caBundle
	if in.ca.present() {
		if ca, err = cas(in.ca); err != nil {
			errs = append(errs, err)
		}
	}
	if in.caErr != nil {
		errs = append(errs, in.caErr)
	}
	var crls []*x509.RevocationList
	if in.crl.present() && ca != nil {
		if crls, err = parseCRLs(in.crl, ca); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &Credential{
		Key: in.ref.Key(), Ref: in.ref, Version: version, Source: in.source,
		Certificate: cert, CRLs: crls, chain: chain, certOrigin: in.cert.origin,
	}
	if cert != nil {
		leaf := cert.Leaf
		c.Serial, c.Subject, c.Issuer = leaf.SerialNumber.Text(16), leaf.Subject.String(), leaf.Issuer.String()
		c.DNSNames, c.SANs, c.NotBefore, c.NotAfter = leaf.DNSNames, sans(leaf), leaf.NotBefore, leaf.NotAfter
	}
	if ca != nil {
		c.ClientCAs, c.CAFingerprint = ca.pool, ca.fingerprint
	}
	return c, nil
}

func isKeyType(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }

// parsePair parses the certificate chain and key, checks that they match and that each
// certificate of the chain is signed by the next one.
func parsePair(certPart, keyPart part) (*tls.Certificate, []*x509.Certificate, error) {
	chain, err := parseCerts(certPart, ReasonBadCert)
	if err != nil {
		return nil, nil, err
	}
	if !hasPEM(keyPart.data, isKeyType) {
		return nil, nil, &Error{Origin: keyPart.origin, Reason: ReasonBadKey, Detail: "no PEM private key found"}
	}
	// crypto/tls does the key parsing (PKCS#1, PKCS#8, SEC 1) and the match check.
	kp, err := tls.X509KeyPair(certPart.data, keyPart.data)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, nil, &Error{Origin: keyPart.origin, Reason: ReasonKeyMismatch, Detail: "key does not match certificate"}
		}
		// tls errors never contain key bytes; keep the cause without its "tls: " prefix.
		return nil, nil, &Error{Origin: keyPart.origin, Reason: ReasonBadKey, Detail: "cannot parse private key",
			Err: errors.New(strings.TrimPrefix(err.Error(), "tls: "))}
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return nil, nil, &Error{Origin: certPart.origin, Reason: ReasonBadChain,
				Detail: fmt.Sprintf("certificate chain does not build: certificate %d (%s) is not signed by certificate %d (%s)",
					i, chain[i].Subject, i+1, chain[i+1].Subject), Err: err}
		}
	}
	kp.Leaf = chain[0]
	return &kp, chain, nil
}

// parseCerts parses every CERTIFICATE block of p.
func parseCerts(p part, reason Reason) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := p.data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &Error{Origin: p.origin, Reason: reason,
				Detail: fmt.Sprintf("certificate %d does not parse", len(out)), Err: err}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		detail := "no PEM certificate found"
		if hasPEM(p.data, isKeyType) {
			detail += " (found a private key: are the inputs switched?)"
		}
		return nil, &Error{Origin: p.origin, Reason: reason, Detail: detail}
	}
	return out, nil
}

func hasPEM(data []byte, typeOK func(string) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if typeOK(b.Type) {
			return true
		}
	}
}

// parseCA parses a CA bundle into a pool.
func parseCA(p part) (*caBundle, error) {
	certs, err := parseCerts(p, ReasonBadCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	sum := sha256.Sum256(p.data)
	return &caBundle{pool: pool, certs: certs, fingerprint: hex.EncodeToString(sum[:])}, nil
}

// parseCRLs parses PEM "X509 CRL" blocks (or one DER CRL) and checks each is signed by a
// certificate of the CA bundle.
func parseCRLs(p part, ca *caBundle) ([]*x509.RevocationList, error) {
	var ders [][]byte
	rest := p.data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "X509 CRL" {
			ders = append(ders, b.Bytes)
		}
	}
	if len(ders) == 0 {
		ders = [][]byte{p.data} // maybe DER
	}
	var out []*x509.RevocationList
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, &Error{Origin: p.origin, Reason: ReasonBadCRL, Detail: fmt.Sprintf("CRL %d does not parse", i), Err: err}
		}
		if !signedByAny(crl, ca.certs) {
			return nil, &Error{Origin: p.origin, Reason: ReasonBadCRL,
				Detail: fmt.Sprintf("CRL %d (issuer %s) is not signed by any certificate of the CA bundle", i, crl.Issuer)}
		}
		out = append(out, crl)
	}
	return out, nil
}

func signedByAny(crl *x509.RevocationList, cas []*x509.Certificate) bool {
	for _, c := range cas {
		if crl.CheckSignatureFrom(c) == nil {
			return true
		}
	}
	return false
}

// checkValidity checks every certificate of the served chain against now.
func checkValidity(c *Credential, now time.Time) error {
	for i, x := range c.chain {
		switch {
		case now.After(x.NotAfter):
			return &Error{Origin: c.certOrigin, Reason: ReasonExpired, Detail: fmt.Sprintf(
				"certificate %d (%s) expired at %s", i, x.Subject, x.NotAfter.UTC().Format(time.RFC3339))}
		case now.Before(x.NotBefore):
			return &Error{Origin: c.certOrigin, Reason: ReasonNotYetValid, Detail: fmt.Sprintf(
				"certificate %d (%s) is not valid before %s", i, x.Subject, x.NotBefore.UTC().Format(time.RFC3339))}
		}
	}
	return nil
}

func sans(c *x509.Certificate) []string {
	var out []string
	out = append(out, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	out = append(out, c.EmailAddresses...)
	return out
}
