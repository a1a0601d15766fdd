package e2e

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/testkit"
)

// TestUpstreamTLSCRL: DestinationRule tls.caCrl through the real binary. The backend's
// server certificate is revoked by a CRL its issuing intermediate signed: requests get
// 503 UF with the reason in the access log and the failure metric. A new CRL without the
// serial (the file rewritten, as a rotated volume) lets them through again.
func TestUpstreamTLSCRL(t *testing.T) {
	portcullisBin(t)
	e := &upEnv{dir: t.TempDir()}
	e.pki, e.config = filepath.Join(e.dir, "pki"), filepath.Join(e.dir, "config")
	e.accessLog = filepath.Join(e.dir, "access.log")
	if err := os.MkdirAll(e.config, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "certs", "--dir", e.pki, "--host", upHost); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	p := certs.PathsFor(e.pki, upHost)
	backend := tlsBackend(t, e.pki, nil)

	// The intermediate (the server certificate's issuer) signs the CRLs.
	issuer := parsePEM(t, p.IntermediateCert, "CERTIFICATE", func(b []byte) (any, error) { return x509.ParseCertificate(b) }).(*x509.Certificate)
	key := parsePEM(t, p.IntermediateKey, "PRIVATE KEY", x509.ParsePKCS8PrivateKey).(crypto.Signer)
	leaf := parsePEM(t, p.ServerCert, "CERTIFICATE", func(b []byte) (any, error) { return x509.ParseCertificate(b) }).(*x509.Certificate)
	crlPath := filepath.Join(e.dir, "upstream.crl.pem")
	writeCRL := func(n int64, revoked ...*big.Int) {
		t.Helper()
		writeFile(t, crlPath, string(testkit.SignCRL(t, issuer, key, n, revoked...)))
	}
	writeCRL(1, leaf.SerialNumber)

	writeFile(t, filepath.Join(e.config, "routes.yaml"), upGateway+upRoute("crl", "crl.example.com", backend,
		fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, caCrl: %s, sni: %s}", p.Chain, crlPath, upHost), ""))
	if out, _ := run(t, "validate", "--config", e.config); strings.Contains(out, "DestinationRule") {
		t.Fatalf("validate reports the DestinationRule:\n%s", out)
	}
	e.port = freePort(t)
	e.gw = startGateway(t, "--config", e.config, "--access-log", e.accessLog, "--port-map", "80=127.0.0.1:"+strconv.Itoa(e.port))
	t.Cleanup(http.DefaultClient.CloseIdleConnections)

	if code, body := e.get(t, "crl.example.com"); code != 503 {
		t.Fatalf("revoked backend certificate: %d %q, want 503", code, body)
	}
	e.logLine(t, "crl.example.com", " 503 UF", "TLS_error:CERTIFICATE_REVOKED")
	if m := e.metrics(t); !strings.Contains(m, `portcullis_upstream_tls_failures_total{cluster="outbound|443||crl.internal",reason="certificate_revoked"}`) {
		t.Errorf("no certificate_revoked failure metric:\n%s", grepLines(m, "upstream_tls"))
	}

	writeCRL(2) // the next CRL no longer lists it
	eventually(t, 10*time.Second, "200 once the CRL no longer lists the certificate", func() error {
		if code, body := e.get(t, "crl.example.com"); code != 200 || body != "sni="+upHost+" client=-" {
			return fmt.Errorf("got %d %q", code, body)
		}
		return nil
	})
}

// parsePEM reads the first PEM block of type typ in path and parses it.
func parsePEM(t *testing.T, path, typ string, parse func([]byte) (any, error)) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no %s block", path, typ)
		}
		if blk.Type == typ {
			v, err := parse(blk.Bytes)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return v
		}
	}
}
