package feature

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/cli"
)

// An update with invalid content is rejected: the last good version keeps serving, the
// error shows in the log, the rejected-updates metric, /config_dump and /certs, and a
// later valid update recovers.
func TestSecretInvalidUpdate(t *testing.T) {
	const name = "istio-system/inventory-credential"
	for _, tc := range []struct {
		name, reason string
		corrupt      func(e *env, d map[string][]byte)
	}{
		{"garbage certificate PEM", "bad_cert", func(_ *env, d map[string][]byte) {
			d["cert"] = []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
		}},
		{"key does not match certificate", "key_mismatch", func(e *env, d map[string][]byte) {
			d["key"] = read(e.t, certs.PathsFor(e.pki, fe).ServerKey)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, setup{})
			good := e.serverSerial(inv)
			ka := e.newClient(inv, inv, true)
			ka.mustOK(t, "/", "inventory")
			load := startLoad(t, 2*time.Millisecond,
				worker(e.newClient(inv, inv, false), "/", "inventory"),
				worker(e.newClient(fe, fe, false), "/", "frontend"))

			bad := e.secretData(inv)
			tc.corrupt(e, bad)
			e.putSecret(inv, bad, renameOver)
			e.logged("rejection", "credential rejected, serving last good version", "name=inventory-credential")

			series := fmt.Sprintf(`portcullis_credential_rejected_total{credential=%q,reason=%q}`, name, tc.reason)
			if v := e.metric(series); v != "1" {
				t.Errorf("%s = %q, want 1", series, v)
			}
			st, err := e.certs(name)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Serving || st.Serial != good || st.LastError == "" {
				t.Errorf("/certs: serving %v serial %s lastError %q; want serving the last good %s with an error",
					st.Serving, st.Serial, st.LastError, good)
			}
			var out bytes.Buffer
			if code := cli.Execute(context.Background(), []string{"certs", "inspect", "--admin", e.admin}, &out, &out); code != 0 ||
				!containsAll(out.String(), []string{name, "yes", good, "does not"}) {
				t.Errorf("portcullis certs inspect: exit %d\n%s", code, out.String())
			}
			if ds := strings.Join(e.diagnostics(), "\n"); !strings.Contains(ds, "inventory-credential") ||
				!strings.Contains(ds, "serving last good version") {
				t.Errorf("/config_dump diagnostics do not report it:\n%s", ds)
			}
			vds, err := app.Validate(app.Options{ConfigPaths: []string{e.config}})
			if err != nil || !strings.Contains(fmt.Sprint(vds), "inventory-credential") {
				t.Errorf("portcullis validate: %v, diagnostics %v; want the credential error", err, vds)
			}
			for range 5 { // the last good version is what new handshakes get
				if r, err := e.get(inv, "/"); err != nil || r.serial != good {
					t.Fatalf("after the invalid update: serial %s, %v; want the last good %s", r.serial, err, good)
				}
			}
			ka.mustOK(t, "/", "inventory")

			fixed := e.rotateServer(inv, renameOver)
			e.servesSerial(inv, fixed)
			eventually(t, within, "/certs error cleared", func() error {
				st, err := e.certs(name)
				if err == nil && (st.LastError != "" || st.Serial != fixed) {
					err = fmt.Errorf("serial %s lastError %q", st.Serial, st.LastError)
				}
				return err
			})
			if ds := e.diagnostics(); len(ds) != 0 {
				t.Errorf("diagnostics after the fix: %q", ds)
			}
			load.finish(t)
		})
	}
}

// A Secret manifest edited into something that does not decode is an invalid update too,
// not a deletion: the objects of the file's last clean version stay in force (the host
// keeps being served) and /config_dump reports the file's errors until it is fixed.
func TestSecretManifestBroken(t *testing.T) {
	e := newEnv(t, setup{})
	good := e.serverSerial(inv)
	load := startLoad(t, 2*time.Millisecond, worker(e.newClient(inv, inv, false), "/", "inventory"))
	e.write(secretName(inv)+".yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: inventory-credential\n")
	eventually(t, within, "file error reported", func() error {
		if ds := strings.Join(e.diagnostics(), "\n"); !strings.Contains(ds, "kept as last loaded") {
			return fmt.Errorf("diagnostics: %s", ds)
		}
		return nil
	})
	if r, err := e.get(inv, "/"); err != nil || r.serial != good {
		t.Fatalf("after the broken edit: serial %s, %v; want the last good %s", r.serial, err, good)
	}
	fixed := e.rotateServer(inv, renameOver)
	e.servesSerial(inv, fixed)
	eventually(t, within, "diagnostics cleared", func() error {
		if ds := e.diagnostics(); len(ds) != 0 {
			return fmt.Errorf("%q", ds)
		}
		return nil
	})
	load.finish(t)
}
