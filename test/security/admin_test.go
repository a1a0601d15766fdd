package security

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/cli"
	"github.com/portcullis/portcullis/internal/testkit"
)

// keyForms returns the spellings of host's server private key a leak could take: the PEM
// armour, each base64 line of its body, the whole file base64-encoded (a Secret's data),
// the DER and the private scalar in hex and base64.
func (e *env) keyForms(host string) map[string]string {
	e.t.Helper()
	raw := read(e.t, certs.PathsFor(e.pki, host).ServerKey)
	forms := map[string]string{
		"PEM armour":     "PRIVATE KEY",
		"Secret data":    base64.StdEncoding.EncodeToString(raw),
		"Secret data/40": base64.StdEncoding.EncodeToString(raw)[20:60],
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		e.t.Fatal("no PEM block in the key")
	}
	for i, line := range strings.Split(string(raw), "\n") {
		if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
			forms["PEM line "+string(rune('0'+i))] = line
		}
	}
	forms["DER hex"] = hex.EncodeToString(blk.Bytes)[:64]
	forms["DER base64"] = base64.StdEncoding.EncodeToString(blk.Bytes)[:40]
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if ek, ok := k.(*ecdsa.PrivateKey); ok {
			d, _ := ek.Bytes()
			forms["scalar hex"] = hex.EncodeToString(d)
			forms["scalar base64"] = base64.StdEncoding.EncodeToString(d)
			forms["scalar base64url"] = base64.RawURLEncoding.EncodeToString(d)
		}
	} else if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		d, _ := k.Bytes()
		forms["scalar hex"] = hex.EncodeToString(d)
		forms["scalar base64"] = base64.StdEncoding.EncodeToString(d)
	}
	return forms
}

// TestAdminNeverShowsKeys: no admin endpoint and no log line carries key material, even
// after broken Secrets (whose errors could quote their content) were loaded.
func TestAdminNeverShowsKeys(t *testing.T) {
	e := newEnv(t, nil)
	config := filepath.Join(e.dir, "config")
	feKey := read(t, certs.PathsFor(e.pki, fe).ServerKey)
	invKey := read(t, certs.PathsFor(e.pki, inv).ServerKey)
	feCert := read(t, certs.PathsFor(e.pki, fe).ServerCert)
	// Broken Secrets, each a plausible mistake: a key that does not match the certificate,
	// PEM pasted into data (not base64), a key with a garbage certificate.
	broken := map[string]string{
		"mismatch.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: mismatch-credential, namespace: istio-system}\ndata:\n" +
			"  key: " + base64.StdEncoding.EncodeToString(invKey) + "\n  cert: " + base64.StdEncoding.EncodeToString(feCert) + "\n",
		"pasted.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: pasted-credential, namespace: istio-system}\ndata:\n" +
			"  key: |\n" + indent(string(feKey), "    ") + "  cert: |\n" + indent(string(feCert), "    "),
		"garbage.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: garbage-credential, namespace: istio-system}\nstringData:\n" +
			"  key: |\n" + indent(string(feKey), "    ") + "  cert: not a certificate\n",
	}
	gw := "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: broken, namespace: default}\nspec:\n" +
		"  selector: {istio: ingressgateway}\n  servers:\n"
	for i, name := range []string{"mismatch", "pasted", "garbage"} {
		gw += "  - port: {number: 443, name: https-" + name + ", protocol: HTTPS}\n" +
			"    tls: {mode: SIMPLE, credentialName: " + name + "-credential}\n" +
			"    hosts: [" + name + string(rune('0'+i)) + ".foocorp.com]\n"
	}
	for f, y := range broken {
		write(t, filepath.Join(config, f), y)
	}
	write(t, filepath.Join(config, "broken-gateway.yaml"), gw)
	testkit.Eventually(t, 5*time.Second, "broken servers reported", func() error {
		_, body := e.adminGet("/config_dump")
		if !strings.Contains(body, "https-garbage") && !strings.Contains(body, "garbage-credential") {
			return errors.New("not loaded yet")
		}
		return nil
	})
	// A failed handshake and a request, so that those paths log too.
	_, _ = e.dial(e.tlsConfig(inv, ""))
	rc := e.open(t, fe, fe)
	rc.do(get("/api/x", fe))

	sources := map[string]string{"log": e.logs.String()}
	for _, p := range []string{"/config_dump", "/certs", "/metrics", "/healthz/ready"} {
		code, body := e.adminGet(p)
		if code != http.StatusOK && p != "/healthz/ready" {
			t.Fatalf("%s: %d", p, code)
		}
		sources[p] = body
	}
	for _, h := range allHosts {
		for form, s := range e.keyForms(h) {
			for where, text := range sources {
				if strings.Contains(text, s) {
					t.Errorf("%s of %s's key appears in %s", form, h, where)
				}
			}
		}
	}
	if !strings.Contains(sources["/config_dump"], "frontend-credential") {
		t.Fatal("config_dump does not show the credentials at all: the check above proves nothing")
	}
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

// TestAdminExposure: the admin listener binds 127.0.0.1 unless told otherwise, pprof is
// off by default, and admin paths are not served on the gateway's own port.
func TestAdminExposure(t *testing.T) {
	t.Run("--admin defaults to 127.0.0.1", func(t *testing.T) {
		for _, cmd := range []string{"run", "demo"} {
			var out, errb bytes.Buffer
			if code := cli.Execute(context.Background(), []string{cmd, "--help"}, &out, &errb); code != 0 {
				t.Fatalf("%s --help: exit %d: %s", cmd, code, errb.String())
			}
			line := ""
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.Contains(l, "--admin ") {
					line = l
				}
			}
			if !strings.Contains(line, `(default "127.0.0.1:`) {
				t.Fatalf("%s --admin: %q", cmd, line)
			}
		}
	})
	e := newEnv(t, nil)
	t.Run("pprof off by default", func(t *testing.T) {
		if code, _ := e.adminGet("/debug/pprof/"); code != http.StatusNotFound {
			t.Fatalf("/debug/pprof/: %d", code)
		}
	})
	for _, p := range []string{"/config_dump", "/certs", "/metrics", "/healthz/ready", "/debug/pprof/"} {
		t.Run(p+" not on the gateway port", func(t *testing.T) {
			for _, host := range []string{fe, "localhost", "127.0.0.1", e.admin} {
				rc := e.open(t, fe, fe)
				resp, body := rc.do(get(p, host))
				mustStatus(t, resp, body, http.StatusNotFound)
			}
		})
	}
}
