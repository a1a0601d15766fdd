package listener

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// policyField classifies one field of snapshot.TLS or Credential for the policy identity
// (policyKeys). A field is part of the whole-policy identity unless it names a reason to
// be left out; clientAuth marks the fields that also decide which client certificates are
// accepted.
type policyField struct {
	clientAuth bool
	exclude    string // non-empty: left out of both identities, for this reason
}

// tlsPolicyFields classifies every field of snapshot.TLS. TestPolicyFieldsClassified fails
// when a field is added to the struct without being classified here; until it is, such a
// field is part of both identities (the safe direction: more 421s, never fewer).
func tlsPolicyFields() map[string]policyField {
	return map[string]policyField{
		"Mode":            {clientAuth: true},
		"Credential":      {}, // which certificate clients see; its CA part is CAFingerprint
		"MinVersion":      {},
		"MaxVersion":      {},
		"CipherSuites":    {},
		"SubjectAltNames": {clientAuth: true},
	}
}

// credentialPolicyFields classifies every field of Credential: the facts of the loaded
// key material that matter besides the snapshot's reference to it.
func credentialPolicyFields() map[string]policyField {
	return map[string]policyField{
		"Certificate":   {exclude: "its content is covered by Version, which changes with it"},
		"ClientCAs":     {exclude: "a pool cannot be compared; CAFingerprint identifies the bundle"},
		"CAFingerprint": {clientAuth: true},
		"CRLs":          {clientAuth: true},
		// Version changes with the server certificate too: kept out of the client-auth
		// identity so that a server certificate rotation does not re-verify every open
		// connection.
		"Version": {},
	}
}

// policyKeys returns the identity of a server's whole TLS policy and of its client-auth
// part, derived from every field of its snapshot.TLS and of its loaded Credential except
// those classified as excluded (see tlsPolicyFields). Two servers with equal policy keys
// accept exactly the same clients with the same certificate, so a request for one may be
// served on the other's connection; equal client-auth keys accept the same client
// certificates. Computed once per server at table build.
func policyKeys(t *snapshot.TLS, cred Credential, haveCred bool) (policy, clientAuth string) {
	var all, ca strings.Builder
	writeFields(&all, &ca, "tls.", reflect.ValueOf(t).Elem(), tlsPolicyFields())
	if haveCred {
		writeFields(&all, &ca, "cred.", reflect.ValueOf(&cred).Elem(), credentialPolicyFields())
	} else {
		// No material: nothing to compare but its absence (such a server cannot serve).
		all.WriteString("cred=<missing>;")
		ca.WriteString("cred=<missing>;")
	}
	return all.String(), ca.String()
}

// writeFields appends "prefix.Name=value;" for every field of the struct v not excluded
// by class, to all and (for client-auth fields and unclassified ones) to ca.
func writeFields(all, ca *strings.Builder, prefix string, v reflect.Value, class map[string]policyField) {
	typ := v.Type()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		c, known := class[name]
		if c.exclude != "" {
			continue
		}
		s := prefix + name + "=" + encodeField(v.Field(i)) + ";"
		all.WriteString(s)
		if c.clientAuth || !known {
			ca.WriteString(s)
		}
	}
}

// encodeField renders a field value unambiguously: CRLs by a digest of their DER, all else
// as JSON (which follows pointers, so equal contents encode equally). A value JSON cannot
// encode falls back to its Go syntax, which at worst makes equal policies differ.
func encodeField(v reflect.Value) string {
	if crls, ok := v.Interface().([]*x509.RevocationList); ok {
		var b strings.Builder
		for _, crl := range crls {
			sum := sha256.Sum256(crl.Raw)
			b.WriteString(hex.EncodeToString(sum[:]))
			b.WriteByte(',')
		}
		return b.String()
	}
	out, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprintf("%#v", v.Interface())
	}
	return string(out)
}
