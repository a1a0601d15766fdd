package translate

import (
	"crypto/tls"
	"fmt"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// serverTLS validates the tls block of an HTTPS server. Every unsupported setting that
// affects security is an error rejecting the server: serving with a weaker policy than the
// one written is worse than not serving.
func (t *translator) serverTLS(f *findings, base string, s *networking.ServerTLSSettings) *snapshot.TLS {
	out := &snapshot.TLS{}
	switch s.Mode {
	case networking.ServerTLSSettings_SIMPLE:
		out.Mode = snapshot.TLSSimple
	case networking.ServerTLSSettings_MUTUAL:
		out.Mode = snapshot.TLSMutual
	case networking.ServerTLSSettings_OPTIONAL_MUTUAL:
		out.Mode = snapshot.TLSOptionalMutual
	case networking.ServerTLSSettings_PASSTHROUGH:
		f.errorf(base+".mode", "tls mode PASSTHROUGH (the default when mode is unset) is not supported yet; set mode SIMPLE, MUTUAL or OPTIONAL_MUTUAL to terminate TLS")
	default:
		f.errorf(base+".mode", "tls mode %s is not supported yet (supported: SIMPLE, MUTUAL, OPTIONAL_MUTUAL)", s.Mode)
	}
	needCA := out.Mode == snapshot.TLSMutual || out.Mode == snapshot.TLSOptionalMutual

	if s.HttpsRedirect {
		f.warnf(base+".httpsRedirect", "httpsRedirect has no effect on an HTTPS server; ignored")
	}
	unsupported := func(field string, set bool) {
		if set {
			f.errorf(base+"."+field, "%s is not supported yet (serving without it would weaken the policy)", field)
		}
	}
	unsupported("credentialNames", len(s.CredentialNames) > 0)
	unsupported("tlsCertificates", len(s.TlsCertificates) > 0)
	unsupported("caCertCredentialName", s.CaCertCredentialName != "")
	unsupported("verifyCertificateSpki", len(s.VerifyCertificateSpki) > 0)
	unsupported("verifyCertificateHash", len(s.VerifyCertificateHash) > 0)
	unsupported("ecdhCurves", len(s.EcdhCurves) > 0)
	unsupported("alpnProtocols", len(s.AlpnProtocols) > 0)
	unsupported("insecureSkipVerify", s.InsecureSkipVerify.GetValue())

	if out.Mode != "" && len(s.CredentialNames) == 0 && len(s.TlsCertificates) == 0 {
		out.Credential = credentialRef(f, base, s, t.opts.Namespace, needCA)
	}
	out.MinVersion, out.MaxVersion = tlsVersions(f, base, s)
	out.CipherSuites = cipherSuites(f, base+".cipherSuites", s.CipherSuites)

	if len(s.SubjectAltNames) > 0 {
		if !needCA && out.Mode != "" {
			f.errorf(base+".subjectAltNames", "subjectAltNames restrict client certificates and require mode MUTUAL or OPTIONAL_MUTUAL (mode is %s)", out.Mode)
		}
		for k, san := range s.SubjectAltNames {
			if san == "" {
				f.errorf(fmt.Sprintf("%s.subjectAltNames[%d]", base, k), "empty subject alternative name")
			}
		}
		out.SubjectAltNames = append([]string(nil), s.SubjectAltNames...)
	}
	return out
}

// credentialRef picks the key material: a Secret (credentialName, in the gateway's
// namespace) or file-mount paths, never both.
func credentialRef(f *findings, base string, s *networking.ServerTLSSettings, ns string, needCA bool) snapshot.CredentialRef {
	ref := snapshot.CredentialRef{NeedCA: needCA}
	files := s.ServerCertificate != "" || s.PrivateKey != "" || s.CaCertificates != "" || s.CaCrl != ""
	switch {
	case s.CredentialName != "" && files:
		f.errorf(base+".credentialName", "set either credentialName or serverCertificate/privateKey/caCertificates/caCrl, not both")
	case s.CredentialName != "":
		if errs := validation.IsDNS1123Subdomain(s.CredentialName); len(errs) > 0 {
			f.errorf(base+".credentialName", "credentialName %q is not a valid Secret name (lower-case letters, digits, '-' and '.'; the Secret is looked up in namespace %s)", s.CredentialName, ns)
		}
		ref.Secret = ns + "/" + s.CredentialName
	case files:
		if s.ServerCertificate == "" {
			f.errorf(base+".serverCertificate", "serverCertificate is required with file-mounted credentials")
		}
		if s.PrivateKey == "" {
			f.errorf(base+".privateKey", "privateKey is required with file-mounted credentials")
		}
		if needCA && s.CaCertificates == "" {
			f.errorf(base+".caCertificates", "caCertificates is required to verify client certificates (mode %s)", s.Mode)
		}
		if !needCA && (s.CaCertificates != "" || s.CaCrl != "") {
			f.warnf(base+".caCertificates", "caCertificates/caCrl have no effect in mode %s (clients are not asked for certificates); ignored", s.Mode)
		}
		ref.Files = &snapshot.FileCredential{
			Certificate: s.ServerCertificate,
			PrivateKey:  s.PrivateKey,
			CACerts:     s.CaCertificates,
			CRL:         s.CaCrl,
		}
		if !needCA {
			ref.Files.CACerts, ref.Files.CRL = "", ""
		}
	default:
		f.errorf(base, "no credentials: set credentialName (a Secret in namespace %s) or serverCertificate and privateKey", ns)
	}
	return ref
}

// tlsVersions maps min/maxProtocolVersion; anything below TLS 1.2 is refused.
func tlsVersions(f *findings, base string, s *networking.ServerTLSSettings) (lo, hi uint16) {
	conv := func(field string, v networking.ServerTLSSettings_TLSProtocol) uint16 {
		switch v {
		case networking.ServerTLSSettings_TLS_AUTO:
			return 0
		case networking.ServerTLSSettings_TLSV1_2:
			return tls.VersionTLS12
		case networking.ServerTLSSettings_TLSV1_3:
			return tls.VersionTLS13
		case networking.ServerTLSSettings_TLSV1_0, networking.ServerTLSSettings_TLSV1_1:
			f.errorf(base+"."+field, "%s is below the TLS 1.2 minimum this gateway accepts", v)
		default:
			f.errorf(base+"."+field, "unknown TLS version %s", v)
		}
		return 0
	}
	lo = conv("minProtocolVersion", s.MinProtocolVersion)
	hi = conv("maxProtocolVersion", s.MaxProtocolVersion)
	if lo != 0 && hi != 0 && lo > hi {
		f.errorf(base+".minProtocolVersion", "minProtocolVersion %s is above maxProtocolVersion %s", s.MinProtocolVersion, s.MaxProtocolVersion)
	}
	return lo, hi
}

// cipherSuites maps OpenSSL-style names (as Istio/Envoy spell them) or IANA names to
// crypto/tls IDs. Unknown names and suites crypto/tls classes as insecure are errors.
func cipherSuites(f *findings, base string, names []string) []uint16 {
	if len(names) == 0 {
		return nil
	}
	var out []uint16
	seen := map[uint16]bool{}
	for k, n := range names {
		field := fmt.Sprintf("%s[%d]", base, k)
		iana := strings.TrimSpace(n)
		if !strings.HasPrefix(iana, "TLS_") {
			iana = ianaCipherName(iana)
		}
		if iana == "" {
			f.errorf(field, "unknown cipher suite %q", n)
			continue
		}
		if _, insecure := findSuite(tls.InsecureCipherSuites(), iana); insecure {
			f.errorf(field, "cipher suite %q (%s) is insecure and not allowed", n, iana)
			continue
		}
		id, ok := findSuite(tls.CipherSuites(), iana)
		if !ok {
			f.errorf(field, "unknown cipher suite %q", n)
			continue
		}
		if !tlsVersionSupported(id) {
			f.warnf(field, "cipher suite %q is a TLS 1.3 suite; TLS 1.3 suites are not configurable and it is ignored", n)
			continue
		}
		if seen[id] {
			f.warnf(field, "duplicate cipher suite %q; ignored", n)
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}

func findSuite(l []*tls.CipherSuite, name string) (uint16, bool) {
	for _, s := range l {
		if s.Name == name {
			return s.ID, true
		}
	}
	return 0, false
}

// tlsVersionSupported: suites usable with TLS 1.2 (the only version where they apply).
func tlsVersionSupported(id uint16) bool {
	for _, s := range tls.CipherSuites() {
		if s.ID == id {
			for _, v := range s.SupportedVersions {
				if v == tls.VersionTLS12 {
					return true
				}
			}
		}
	}
	return false
}
