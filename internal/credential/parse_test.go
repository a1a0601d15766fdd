package credential

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
)

const frontend = "istio-system/frontend-credential"

var mutual = snapshot.CredentialRef{Secret: frontend, NeedCA: true}

func TestLoadLayouts(t *testing.T) {
	ca, other := newCA(t, "frontend"), newCA(t, "other")
	m := newMaterial(t, ca, "frontend.foocorp.com")
	dir := t.TempDir()
	files := map[string][]byte{"cert.pem": m.cert, "key.pem": m.key, "ca.pem": ca.chainPEM(), "crl.pem": ca.crlPEM(t)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fileRef := snapshot.CredentialRef{NeedCA: true, Files: &snapshot.FileCredential{
		Certificate: filepath.Join(dir, "cert.pem"), PrivateKey: filepath.Join(dir, "key.pem"),
		CACerts: filepath.Join(dir, "ca.pem"), CRL: filepath.Join(dir, "crl.pem")}}
	withCRL := m.generic()
	withCRL["crl"] = ca.crlPEM(t)
	for _, tc := range []struct {
		name     string
		ref      snapshot.CredentialRef
		secrets  map[string]map[string][]byte
		wantCA   []byte // CA bundle bytes expected (nil: no ClientCAs)
		wantCRLs int
		source   string
	}{
		{name: "generic", ref: mutual, secrets: map[string]map[string][]byte{frontend: m.generic()},
			wantCA: ca.chainPEM(), source: "secret " + frontend},
		{name: "generic simple ignores CA", ref: snapshot.CredentialRef{Secret: frontend},
			secrets: map[string]map[string][]byte{frontend: m.generic()}, source: "secret " + frontend},
		{name: "tls style", ref: mutual, secrets: map[string]map[string][]byte{frontend: m.tlsStyle()},
			wantCA: ca.chainPEM(), source: "secret " + frontend},
		{name: "generic with crl", ref: mutual, secrets: map[string]map[string][]byte{frontend: withCRL},
			wantCA: ca.chainPEM(), wantCRLs: 1, source: "secret " + frontend},
		{name: "cacert secret first (cacert key)", ref: mutual, secrets: map[string]map[string][]byte{
			frontend: m.generic(), frontend + "-cacert": {"cacert": other.chainPEM()}},
			wantCA: other.chainPEM(), source: "secret " + frontend + " (ca from secret " + frontend + "-cacert)"},
		{name: "cacert secret (ca.crt key) with tls-style main", ref: mutual, secrets: map[string]map[string][]byte{
			frontend: {"tls.crt": m.cert, "tls.key": m.key}, frontend + "-cacert": {"ca.crt": other.chainPEM(), "ca.crl": other.crlPEM(t)}},
			wantCA: other.chainPEM(), wantCRLs: 1, source: "secret " + frontend + " (ca from secret " + frontend + "-cacert)"},
		{name: "files", ref: fileRef, wantCA: ca.chainPEM(), wantCRLs: 1,
			source: "files cert=" + fileRef.Files.Certificate + " key=" + fileRef.Files.PrivateKey + " ca=" + fileRef.Files.CACerts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.ref, tc.secrets, t0)
			if err != nil {
				t.Fatal(err)
			}
			if c.Key != tc.ref.Key() || c.Source != tc.source {
				t.Errorf("key, source = %q, %q; want %q, %q", c.Key, c.Source, tc.ref.Key(), tc.source)
			}
			if c.Certificate.Leaf == nil || !c.Certificate.Leaf.Equal(m.leafCert) || len(c.Certificate.Certificate) != 2 {
				t.Errorf("certificate: leaf or chain wrong (chain length %d)", len(c.Certificate.Certificate))
			}
			want := struct {
				Serial, Subject, Issuer string
				DNS                     []string
				NotAfter                time.Time
			}{m.leafCert.SerialNumber.Text(16), "CN=frontend.foocorp.com", "CN=frontend intermediate",
				[]string{"frontend.foocorp.com"}, m.leafCert.NotAfter}
			got := want
			got.Serial, got.Subject, got.Issuer, got.DNS, got.NotAfter = c.Serial, c.Subject, c.Issuer, c.DNSNames, c.NotAfter
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("display fields (-want +got):\n%s", diff)
			}
			if (c.ClientCAs != nil) != (tc.wantCA != nil) {
				t.Fatalf("ClientCAs = %v, want CA %v", c.ClientCAs != nil, tc.wantCA != nil)
			}
			if tc.wantCA != nil {
				want, _ := parseCA(part{data: tc.wantCA})
				if c.CAFingerprint != want.fingerprint || !c.ClientCAs.Equal(want.pool) {
					t.Error("CA bundle is not the expected one")
				}
			}
			if len(c.CRLs) != tc.wantCRLs {
				t.Errorf("%d CRLs, want %d", len(c.CRLs), tc.wantCRLs)
			}
		})
	}
}

func TestLoadFailures(t *testing.T) {
	ca, other := newCA(t, "frontend"), newCA(t, "other")
	m := newMaterial(t, ca, "frontend.foocorp.com")
	o := newMaterial(t, other, "frontend.foocorp.com")
	expired, expiredKey := ca.leaf(t, "frontend.foocorp.com", t0.Add(-48*time.Hour), t0.Add(-time.Hour))
	future, futureKey := ca.leaf(t, "frontend.foocorp.com", t0.Add(time.Hour), t0.Add(48*time.Hour))
	with := func(kv ...any) map[string]map[string][]byte {
		d := m.generic()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(d, kv[i].(string))
			} else {
				d[kv[i].(string)] = kv[i+1].([]byte)
			}
		}
		return map[string]map[string][]byte{frontend: d}
	}
	const s = "secret " + frontend
	for _, tc := range []struct {
		name    string
		ref     snapshot.CredentialRef
		secrets map[string]map[string][]byte
		want    string
		reason  Reason
		field   string
	}{
		{"not found", mutual, nil, s + ": secret not found", ReasonNotFound, ""},
		{"no pem cert", mutual, with("cert", []byte("garbage")), s + ` key "cert": no PEM certificate found`, ReasonBadCert, "data.cert"},
		{"switched", mutual, with("cert", m.key, "key", m.cert), s + ` key "cert": no PEM certificate found (found a private key: are the inputs switched?)`, ReasonBadCert, "data.cert"},
		{"no pem key", mutual, with("key", []byte("garbage")), s + ` key "key": no PEM private key found`, ReasonBadKey, "data.key"},
		{"key mismatch", mutual, with("key", o.key), s + ` key "key": key does not match certificate`, ReasonKeyMismatch, "data.key"},
		{"missing key", mutual, with("key", nil), s + ` key "key": missing or empty`, ReasonMissingKey, "data.key"},
		{"missing tls.crt", mutual, map[string]map[string][]byte{frontend: {"tls.key": m.key}}, s + ` key "tls.crt": missing or empty`, ReasonMissingKey, "data.tls.crt"},
		{"empty secret", mutual, map[string]map[string][]byte{frontend: {}}, s + `: no certificate: expected keys "cert" and "key", or "tls.crt" and "tls.key"`, ReasonMissingKey, ""},
		{"chain does not build", mutual, with("cert", certsPEM(m.leafCert, other.inter)),
			s + ` key "cert": certificate chain does not build: certificate 0 (CN=frontend.foocorp.com) is not signed by certificate 1 (CN=other intermediate): x509: ECDSA verification failure`, ReasonBadChain, "data.cert"},
		{"expired", mutual, with("cert", certsPEM(expired, ca.inter), "key", keyPEM(t, expiredKey)),
			s + ` key "cert": certificate 0 (CN=frontend.foocorp.com) expired at ` + t0.Add(-time.Hour).Format(time.RFC3339), ReasonExpired, "data.cert"},
		{"not yet valid", mutual, with("cert", certsPEM(future, ca.inter), "key", keyPEM(t, futureKey)),
			s + ` key "cert": certificate 0 (CN=frontend.foocorp.com) is not valid before ` + t0.Add(time.Hour).Format(time.RFC3339), ReasonNotYetValid, "data.cert"},
		{"missing CA", mutual, with("cacert", nil),
			s + ` key "cacert": client verification needs a CA bundle in key "cacert" or "ca.crt" (or a secret ` + frontend + `-cacert)`, ReasonMissingCA, "data.cacert"},
		{"missing CA in cacert secret", mutual, map[string]map[string][]byte{frontend: m.generic(), frontend + "-cacert": {"other": []byte("x")}},
			s + `-cacert key "cacert": client verification needs a CA bundle in key "cacert" or "ca.crt"`, ReasonMissingCA, "data.cacert"},
		{"CA unparsable", mutual, with("cacert", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
			s + ` key "cacert": certificate 0 does not parse: x509: malformed certificate`, ReasonBadCA, "data.cacert"},
		{"CRL unparsable", mutual, with("crl", []byte("not a crl")), s + ` key "crl": CRL 0 does not parse: x509: malformed crl`, ReasonBadCRL, "data.crl"},
		{"CRL of another CA", mutual, with("crl", other.crlPEM(t)),
			s + ` key "crl": CRL 0 (issuer CN=other intermediate) is not signed by any certificate of the CA bundle`, ReasonBadCRL, "data.crl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.ref, tc.secrets, t0)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			es := Errors(err)
			if len(es) != 1 || es[0].Reason != tc.reason {
				t.Fatalf("errors %v, want one with reason %s", es, tc.reason)
			}
			if d := es[0].Diagnostic(); d.Kind != "Secret" || d.Field != tc.field || d.Severity != diag.Error || !strings.HasPrefix(frontend, d.Namespace+"/") {
				t.Errorf("diagnostic %+v, want field %q", d, tc.field)
			}
		})
	}
}

func TestLoadJoinsIndependentErrors(t *testing.T) {
	ca := newCA(t, "frontend")
	m := newMaterial(t, ca, "frontend.foocorp.com")
	d := m.generic()
	d["cert"], d["cacert"] = []byte("x"), []byte("y")
	_, err := Load(mutual, map[string]map[string][]byte{frontend: d}, t0)
	var got []Reason
	for _, e := range Errors(err) {
		got = append(got, e.Reason)
	}
	if diff := cmp.Diff([]Reason{ReasonBadCert, ReasonBadCA}, got); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}

func TestLoadFileFailures(t *testing.T) {
	dir := t.TempDir()
	ref := snapshot.CredentialRef{NeedCA: true, Files: &snapshot.FileCredential{
		Certificate: filepath.Join(dir, "cert.pem"), PrivateKey: filepath.Join(dir, "key.pem")}}
	_, err := Load(ref, nil, t0)
	want := "file " + ref.Files.Certificate + ": file not found\nfile " + ref.Files.PrivateKey + ": file not found"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
	if d := Errors(err)[0].Diagnostic(); d.File != ref.Files.Certificate || d.Kind != "" {
		t.Errorf("diagnostic %+v", d)
	}
	// Present certificate, no CA configured: the missing CA is the only problem.
	ca := newCA(t, "frontend")
	m := newMaterial(t, ca, "frontend.foocorp.com")
	for name, b := range map[string][]byte{"cert.pem": m.cert, "key.pem": m.key} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Load(ref, nil, t0)
	if want := "file " + ref.Files.Certificate + ": client verification needs caCertificates"; err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
}
