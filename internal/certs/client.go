package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ClientTLS is the client side of host's walkthrough PKI under dir, as curl uses it
// (`--cacert …/ca-chain.cert.pem --cert … --key …` with SNI host): the client certificate
// and key, and the CA chain as roots for the server's certificate.
func ClientTLS(dir, host string) (*tls.Config, error) {
	p := PathsFor(dir, host)
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
	return &tls.Config{ServerName: host, RootCAs: roots, Certificates: []tls.Certificate{cert}}, nil
}
