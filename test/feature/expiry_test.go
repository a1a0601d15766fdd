package feature

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/certs"
)

// A Secret whose server certificate is outside its validity period at start (expired, or
// not yet valid) fails only its host: its handshakes fail, /certs and `portcullis
// validate` (app.Validate) name the secret, key and reason, and the other host is served.
// Replacing it with a valid certificate serves it within a second, and the expiry gauge
// then reports the valid certificate's remaining lifetime.
func TestServerCertificateValidity(t *testing.T) {
	const name = "istio-system/inventory-credential"
	const validity = 30 * 24 * time.Hour
	for _, tc := range []struct {
		name  string
		clock time.Duration // issuing clock relative to now
		life  time.Duration
		want  string // in /certs lastError and the diagnostic
	}{
		{"expired", -48 * time.Hour, 24 * time.Hour, "expired at"},
		{"not yet valid", 48 * time.Hour, validity, "is not valid before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, setup{prepare: func(e *env) {
				at := time.Now().Add(tc.clock)
				if err := certs.IssueServer(e.pki, inv, certs.Options{Validity: tc.life, Clock: func() time.Time { return at }}); err != nil {
					e.t.Fatal(err)
				}
			}})
			e.newClient(fe, fe, false).mustOK(t, "/", "frontend")
			if r, err := e.get(inv, "/"); err == nil {
				t.Fatalf("inventory served (%d, serial %s) with a certificate that is %s", r.code, r.serial, tc.name)
			}
			st, err := e.certs(name)
			if err != nil {
				t.Fatal(err)
			}
			if st.Serving || !containsAll(st.LastError, []string{name, `key "cert"`, tc.want}) {
				t.Errorf("/certs: serving %v lastError %q; want not serving, an error naming %s key \"cert\" and %q",
					st.Serving, st.LastError, name, tc.want)
			}
			ds, err := app.Validate(app.Options{ConfigPaths: []string{e.config}})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range ds {
				if d.Kind == "Secret" && d.Name == "inventory-credential" && d.Field == "data.cert" && strings.Contains(d.Message, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("validate diagnostics %+v; want one for Secret inventory-credential data.cert %q", ds, tc.want)
			}
			if v := e.metric(expirySeries(name)); v != "" {
				t.Errorf("%s = %s while nothing is served; want no sample", expirySeries(name), v)
			}

			serial := e.rotateServer(inv, renameOver)
			took := e.servesSerial(inv, serial)
			t.Logf("valid certificate served %v after the replacement", took)
			eventually(t, within, "/certs error cleared", func() error {
				st, err := e.certs(name)
				if err == nil && (!st.Serving || st.LastError != "" || st.Serial != serial) {
					err = fmt.Errorf("serving %v serial %s lastError %q", st.Serving, st.Serial, st.LastError)
				}
				return err
			})
			if ds, err := app.Validate(app.Options{ConfigPaths: []string{e.config}}); err != nil || len(ds) != 0 {
				t.Errorf("validate after the fix: %v, %+v; want no diagnostics", err, ds)
			}
			e.newClient(fe, fe, false).mustOK(t, "/", "frontend")

			// certs.IssueServer's default validity is 365 days from now.
			for _, cred := range []string{name, "istio-system/frontend-credential"} {
				v := e.metric(expirySeries(cred))
				secs, err := strconv.ParseFloat(v, 64)
				if lo, hi := (364 * 24 * time.Hour).Seconds(), (365 * 24 * time.Hour).Seconds(); err != nil || secs < lo || secs > hi {
					t.Errorf("%s = %q; want between %.0f and %.0f seconds", expirySeries(cred), v, lo, hi)
				}
			}
		})
	}
}

func expirySeries(credential string) string {
	return fmt.Sprintf("portcullis_credential_expiry_seconds{credential=%q}", credential)
}

// A certificate that is not yet valid at start is served once its validity begins, with no
// change to any file: the gateway re-checks credentials periodically (CredentialRecheck).
func TestServerCertificateBecomesValid(t *testing.T) {
	const recheck = 200 * time.Millisecond
	// Certificates carry whole seconds: pick a whole second 1.5–2.5 s ahead.
	notBefore := time.Now().Add(2500 * time.Millisecond).Truncate(time.Second)
	// certs backdates NotBefore by an hour (clock skew): issue "an hour later" than notBefore.
	issuedAt := notBefore.Add(time.Hour)
	e := newEnv(t, setup{recheck: recheck, prepare: func(e *env) {
		if err := certs.IssueServer(e.pki, inv, certs.Options{Validity: 24 * time.Hour, Clock: func() time.Time { return issuedAt }}); err != nil {
			e.t.Fatal(err)
		}
	}})
	if r, err := e.get(inv, "/"); err == nil && time.Now().Before(notBefore) {
		t.Fatalf("inventory served (%d) before its certificate's validity began", r.code)
	}
	eventually(t, time.Until(notBefore)+5*time.Second, "inventory served once valid", func() error {
		_, err := e.get(inv, "/")
		return err
	})
	late := time.Since(notBefore)
	if late < 0 {
		t.Fatalf("served %v before the certificate's validity began", -late)
	}
	t.Logf("served %v after the certificate's validity began (recheck every %v)", late, recheck)
}
