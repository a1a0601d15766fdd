package listener

import (
	"crypto/tls"
	"crypto/x509"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestPolicyFieldsClassified fails when a field of snapshot.TLS or Credential is neither
// part of the policy identity nor excluded with a reason, or when a classification names
// a field that no longer exists. A new TLS setting must be classified here before two
// servers differing only in it can be told apart on purpose.
func TestPolicyFieldsClassified(t *testing.T) {
	for _, c := range []struct {
		typ   reflect.Type
		class map[string]policyField
	}{
		{reflect.TypeFor[snapshot.TLS](), tlsPolicyFields()},
		{reflect.TypeFor[Credential](), credentialPolicyFields()},
	} {
		seen := map[string]bool{}
		for i := range c.typ.NumField() {
			name := c.typ.Field(i).Name
			seen[name] = true
			pf, ok := c.class[name]
			if !ok {
				t.Errorf("%s.%s is not classified for the TLS policy identity: add it to the policy "+
					"(and say whether it is part of client authentication) or exclude it with a reason", c.typ, name)
			}
			if pf.exclude != "" && pf.clientAuth {
				t.Errorf("%s.%s is both excluded and part of client authentication", c.typ, name)
			}
		}
		for name := range c.class {
			if !seen[name] {
				t.Errorf("%s has no field %s, which is classified", c.typ, name)
			}
		}
	}
}

// TestPolicyKeysFollowEveryField changes each field in turn: an included field changes the
// policy key (and the client-auth key exactly when it is a client-auth field); an excluded
// one changes neither.
func TestPolicyKeysFollowEveryField(t *testing.T) {
	base := func() (*snapshot.TLS, Credential) {
		return &snapshot.TLS{Mode: snapshot.TLSMutual, Credential: snapshot.CredentialRef{Secret: "ns/a", NeedCA: true}},
			Credential{Certificate: &tls.Certificate{}, ClientCAs: x509.NewCertPool(), CAFingerprint: "ca1", Version: "v1"}
	}
	tlsChanges := map[string]func(*snapshot.TLS){
		"Mode":            func(s *snapshot.TLS) { s.Mode = snapshot.TLSOptionalMutual },
		"Credential":      func(s *snapshot.TLS) { s.Credential.Files = &snapshot.FileCredential{Certificate: "/c"} },
		"MinVersion":      func(s *snapshot.TLS) { s.MinVersion = tls.VersionTLS13 },
		"MaxVersion":      func(s *snapshot.TLS) { s.MaxVersion = tls.VersionTLS12 },
		"CipherSuites":    func(s *snapshot.TLS) { s.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256} },
		"SubjectAltNames": func(s *snapshot.TLS) { s.SubjectAltNames = []string{"spiffe://x"} },
	}
	credChanges := map[string]func(*Credential){
		"Certificate":   func(c *Credential) { c.Certificate = &tls.Certificate{Certificate: [][]byte{{1}}} },
		"ClientCAs":     func(c *Credential) { c.ClientCAs = nil },
		"CAFingerprint": func(c *Credential) { c.CAFingerprint = "ca2" },
		"CRLs":          func(c *Credential) { c.CRLs = []*x509.RevocationList{{Raw: []byte{1}}} },
		"Version":       func(c *Credential) { c.Version = "v2" },
	}
	s0, c0 := base()
	p0, a0 := policyKeys(s0, c0, true)
	check := func(field string, pf policyField, p, a string) {
		t.Helper()
		if pf.exclude != "" {
			if p != p0 || a != a0 {
				t.Errorf("%s is excluded (%s) but changed a key", field, pf.exclude)
			}
			return
		}
		if p == p0 {
			t.Errorf("changing %s leaves the policy key unchanged", field)
		}
		if (a != a0) != pf.clientAuth {
			t.Errorf("changing %s: client-auth key changed=%v, want %v", field, a != a0, pf.clientAuth)
		}
	}
	for name, pf := range tlsPolicyFields() {
		change, ok := tlsChanges[name]
		if !ok {
			t.Errorf("no change for snapshot.TLS.%s in this test", name)
			continue
		}
		s, c := base()
		change(s)
		p, a := policyKeys(s, c, true)
		check("TLS."+name, pf, p, a)
	}
	for name, pf := range credentialPolicyFields() {
		change, ok := credChanges[name]
		if !ok {
			t.Errorf("no change for Credential.%s in this test", name)
			continue
		}
		s, c := base()
		change(&c)
		p, a := policyKeys(s, c, true)
		check("Credential."+name, pf, p, a)
	}

	s, c := base()
	if p, a := policyKeys(s, c, true); p != p0 || a != a0 {
		t.Error("policy keys are not deterministic")
	}
	if p, _ := policyKeys(s, c, false); p == p0 {
		t.Error("a missing credential has the same policy key as a loaded one")
	}
}

// TestPolicyKeysUnclassifiedFieldIsIncluded: a field missing from the classification (a
// new setting not yet classified) is part of both identities, never silently ignored.
func TestPolicyKeysUnclassifiedFieldIsIncluded(t *testing.T) {
	type settings struct{ Known, New string }
	class := map[string]policyField{"Known": {}}
	keys := func(s settings) (string, string) {
		var all, ca strings.Builder
		writeFields(&all, &ca, "", reflect.ValueOf(s), class)
		return all.String(), ca.String()
	}
	p0, a0 := keys(settings{Known: "k", New: "a"})
	p1, a1 := keys(settings{Known: "k", New: "b"})
	if p0 == p1 || a0 == a1 {
		t.Fatalf("an unclassified field does not change both keys: %q %q", p0, a0)
	}
}
