package feature

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// File-mount TLS (serverCertificate, privateKey and caCertificates paths in the Gateway)
// is watched too: rotating those files serves the new certificate within a second.
func TestFileMountRotation(t *testing.T) {
	e := newEnv(t, setup{})
	e.useFileMount(inv)

	ka := e.newClient(inv, inv, true)
	first := ka.mustOK(t, "/", "inventory")
	load := startLoad(t, 2*time.Millisecond,
		worker(e.newClient(inv, inv, false), "/", "inventory"),
		worker(e.newClient(fe, fe, false), "/", "frontend"))
	for i := range 3 {
		if err := certs.IssueServer(e.pki, inv, certs.Options{}); err != nil { // key and cert renamed over
			t.Fatal(err)
		}
		serial := e.serverSerial(inv)
		took := e.servesSerial(inv, serial)
		t.Logf("rotation %d: serial %s served after %v", i+1, serial, took)
	}
	if r := ka.mustOK(t, "/", "inventory"); r.serial != first.serial || ka.dials.Load() != 1 {
		t.Errorf("keep-alive connection: serial %s, %d dials; want %s on 1", r.serial, ka.dials.Load(), first.serial)
	}
	load.finish(t)
}

// useFileMount switches inventory's server to file-mount TLS on the PKI's files.
func (e *env) useFileMount(host string) {
	e.t.Helper()
	p := certs.PathsFor(e.pki, host)
	e.write("gateway.yaml", gatewayYAML(serverMutual("https-frontend", fe),
		serverFiles("https-inventory", host, p.ServerCert, p.ServerKey, p.Chain)))
	e.deleteSecret(host) // only the files feed it now
	eventually(e.t, within, "file-mount credential in /certs", func() error {
		_, err := e.certs(p.ServerCert)
		return err
	})
	e.servesSerial(host, e.serverSerial(host))
}
