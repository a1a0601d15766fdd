package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/credential"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestWalkthroughHandshake serves the generated frontend credential (loaded through the
// credential package from the Secret data the manifests carry) with mutual TLS on
// loopback, and connects as the walkthrough's curl does: --cacert ca-chain, --cert/--key
// from 4_client. The inventory client certificate must be refused.
func TestWalkthroughHandshake(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(Options{Dir: dir, Hosts: foocorp}); err != nil {
		t.Fatal(err)
	}
	front, inv := PathsFor(dir, foocorp[0]), PathsFor(dir, foocorp[1])
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ref := snapshot.CredentialRef{Secret: "istio-system/frontend-credential", NeedCA: true}
	cred, err := credential.Load(ref, map[string]map[string][]byte{ref.Secret: {
		"key": read(front.ServerKey), "cert": read(front.ServerCert), "cacert": read(front.Chain)}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cred.Certificate},
		ClientCAs: cred.ClientCAs, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err == nil {
					_, _ = io.WriteString(c, "ok")
				}
			}()
		}
	}()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(read(front.Chain))
	dial := func(p Paths) error {
		kp, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		d := &net.Dialer{Timeout: 5 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{ServerName: foocorp[0], RootCAs: roots,
			Certificates: []tls.Certificate{kp}})
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c) // TLS 1.3: a rejected client certificate shows up on read
		if err == nil && string(b) != "ok" {
			err = errors.New("no response")
		}
		return err
	}
	if err := dial(front); err != nil {
		t.Errorf("frontend client: %v", err)
	}
	if err := dial(inv); err == nil {
		t.Error("inventory client certificate accepted by the frontend server")
	}
}
