package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// TestWalkthroughRotation is the walkthrough's rotation step: the inventory team replaces
// inventory-credential on disk (a new server certificate from its intermediate, written
// the way `portcullis certs --secrets-out` writes it) and `openssl s_client` sees the new
// certificate without anything being restarted.
func TestWalkthroughRotation(t *testing.T) {
	e := setupWalkthrough(t)
	const fe, inv = "frontend.foocorp.com", "inventory.foocorp.com"
	pid := e.gw.cmd.Process.Pid

	before := e.servedSerial(t, inv)
	if want := fileSerial(t, certs.PathsFor(e.pki, inv).ServerCert); before != want {
		t.Fatalf("openssl sees serial %s, the manifest holds %s", before, want)
	}
	feBefore := e.servedSerial(t, fe)

	written := e.rotateServer(t, inv)
	want := fileSerial(t, certs.PathsFor(e.pki, inv).ServerCert)
	eventually(t, 2*time.Second, "openssl s_client sees the new serial", func() error {
		if got := e.servedSerial(t, inv); got != want {
			return fmt.Errorf("serial %s, want %s", got, want)
		}
		return nil
	})
	t.Logf("new inventory certificate %s served %v after the write", want, time.Since(written).Round(time.Millisecond))

	out, errOut, code := e.curl(t, inv, inv, inv, "/")
	if code != 0 || strings.TrimSpace(out) != inventoryBody {
		t.Fatalf("inventory after rotation: curl exit %d, body %q, stderr %s", code, out, errOut)
	}
	if got := e.servedSerial(t, fe); got != feBefore {
		t.Errorf("frontend serial changed from %s to %s", feBefore, got)
	}
	if !strings.Contains(e.gw.logs.String(), "serial="+strings.ToLower(strings.TrimLeft(want, "0"))) {
		t.Errorf("no log line pushing serial %s:\n%s", want, e.gw.logs.String())
	}
	inspect, err := run(t, "certs", "inspect", "--admin", e.gw.admin)
	if err != nil || !strings.Contains(strings.ToUpper(inspect), strings.TrimLeft(want, "0")) {
		t.Errorf("portcullis certs inspect: %v\n%s", err, inspect)
	}
	select {
	case err := <-e.gw.exited:
		e.gw.exited <- err
		t.Fatalf("the gateway exited: %v", err)
	default:
	}
	if e.gw.cmd.Process.Pid != pid {
		t.Fatal("the gateway was restarted")
	}
}

// rotateServer issues a new server certificate for host and replaces its Secret manifest
// as one step (like kubectl apply); it returns when the file was replaced.
func (e *walkthroughEnv) rotateServer(t *testing.T, host string) time.Time {
	t.Helper()
	if err := certs.IssueServer(e.pki, host, certs.Options{}); err != nil {
		t.Fatal(err)
	}
	ms, err := certs.SecretManifests(e.pki, []string{host}, certs.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(e.config, ms[0].Name+".yaml")
	tmp := manifest + ".tmp"
	if err := os.WriteFile(tmp, ms[0].YAML, 0o600); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	if err := os.Rename(tmp, manifest); err != nil {
		t.Fatal(err)
	}
	return written
}

// servedSerial connects with openssl s_client as the walkthrough's client of host and
// returns the serial (upper-case hex, as openssl prints it) of the certificate served.
func (e *walkthroughEnv) servedSerial(t *testing.T, host string) string {
	t.Helper()
	out, errOut, _ := sh(t, e.pki, "openssl", "s_client", "-connect", "127.0.0.1:"+strconv.Itoa(e.port),
		"-servername", host, "-CAfile", host+"/2_intermediate/certs/ca-chain.cert.pem",
		"-cert", host+"/4_client/certs/"+host+".cert.pem", "-key", host+"/4_client/private/"+host+".key.pem")
	if !strings.Contains(out, "Verify return code: 0 (ok)") {
		t.Fatalf("openssl s_client %s: chain did not verify:\n%s%s", host, out, errOut)
	}
	return pemSerial(t, []byte(out))
}

func fileSerial(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return pemSerial(t, b)
}

// pemSerial is the serial of the first PEM certificate in b.
func pemSerial(t *testing.T, b []byte) string {
	t.Helper()
	i := strings.Index(string(b), "-----BEGIN CERTIFICATE-----")
	if i < 0 {
		t.Fatalf("no certificate in:\n%s", b)
	}
	blk, _ := pem.Decode(b[i:])
	if blk == nil {
		t.Fatalf("bad PEM:\n%s", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(c.SerialNumber.Text(16))
}
