package load

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/portcullis/portcullis/bench/internal/pki"
)

// ClientTLS returns the client side of host's mutual TLS from the walkthrough layout under
// pkiDir: the host's client certificate and its CA chain as roots. TLS 1.3, X25519 only,
// no session cache (every dial is a full handshake).
func ClientTLS(pkiDir, host string) (*tls.Config, error) {
	p := pki.PathsFor(pkiDir, host)
	cert, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("client certificate of %s: %w", host, err)
	}
	chain, err := os.ReadFile(p.Chain)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(chain) {
		return nil, fmt.Errorf("%s: no certificates", p.Chain)
	}
	return &tls.Config{
		Certificates:           []tls.Certificate{cert},
		RootCAs:                roots,
		ServerName:             host,
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		CurvePreferences:       []tls.CurveID{tls.X25519},
		SessionTicketsDisabled: true,
		ClientSessionCache:     nil,
	}, nil
}

// PinnedClientTLS is ClientTLS for load runs: instead of building and verifying the
// server's chain on every handshake (two ECDSA verifications the client would pay, on the
// core it shares with the backend), it accepts exactly the server certificate in pkiDir.
// The handshake still proves the server holds that certificate's key (TLS 1.3
// CertificateVerify is always checked), so nothing else can answer; the policy probes
// use the full verification.
func PinnedClientTLS(pkiDir, host string) (*tls.Config, error) {
	cfg, err := ClientTLS(pkiDir, host)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(pki.PathsFor(pkiDir, host).ServerCert)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("server certificate of %s: no PEM block", host)
	}
	want := block.Bytes
	cfg.InsecureSkipVerify = true // replaced by the pin below
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
			return errors.New("server certificate is not the pinned one")
		}
		return nil
	}
	return cfg, nil
}
