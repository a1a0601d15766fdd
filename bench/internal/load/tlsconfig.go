package load

import (
	"crypto/tls"
	"crypto/x509"
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
