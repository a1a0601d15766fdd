package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// CA is a signing certificate and its key.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte
}

// Paths of one host's files: the walkthrough layout of internal/certs (one definition of
// it). This package keeps its own generator only for what `portcullis certs` does not do:
// one CA shared by thousands of hosts (configuration-scale runs) and re-issuing a server
// certificate from an in-memory intermediate while a rotation is being timed.
type Paths = certs.Paths

// PathsFor returns where Host writes the files of host under dir.
func PathsFor(dir, host string) Paths { return certs.PathsFor(dir, host) }

// NewCAPair makes a root and an intermediate signed by it, named after label.
func NewCAPair(label string) (root, inter *CA, err error) {
	root, err = newCert(label+" Root CA", nil, nil, true)
	if err != nil {
		return nil, nil, err
	}
	inter, err = newCert(label+" Intermediate CA", nil, root, true)
	if err != nil {
		return nil, nil, err
	}
	return root, inter, nil
}

// Host writes host's PKI under dir with its own root and intermediate.
func Host(dir, host string) (Paths, error) {
	root, inter, err := NewCAPair(host)
	if err != nil {
		return Paths{}, err
	}
	return HostWithCA(dir, host, root, inter)
}

// HostWithCA writes host's server and client certificates signed by inter.
func HostWithCA(dir, host string, root, inter *CA) (Paths, error) {
	p := PathsFor(dir, host)
	srv, err := newCert(host, []string{host}, inter, false)
	if err != nil {
		return p, err
	}
	cli, err := newCert(host, nil, inter, false)
	if err != nil {
		return p, err
	}
	chain := append(append([]byte{}, inter.PEM...), root.PEM...)
	files := []struct {
		path string
		data []byte
	}{
		{p.RootCert, root.PEM},
		{filepath.Join(filepath.Dir(p.Chain), "intermediate.cert.pem"), inter.PEM},
		{p.Chain, chain},
		{p.ServerCert, srv.PEM},
		{p.ClientCert, cli.PEM},
	}
	for _, f := range files {
		if err := write(f.path, f.data, 0o644); err != nil {
			return p, err
		}
	}
	for _, k := range []struct {
		path string
		key  *ecdsa.PrivateKey
	}{{p.ServerKey, srv.Key}, {p.ClientKey, cli.Key}} {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return p, err
		}
		if err := write(k.path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return p, err
		}
	}
	return p, nil
}

// ReissueServer writes a new server certificate (new key, new serial) for host, signed by
// inter, to the given paths; used for rotation runs. It returns the new serial.
func ReissueServer(certPath, keyPath, host string, inter *CA) (*big.Int, error) {
	srv, err := newCert(host, []string{host}, inter, false)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(srv.Key)
	if err != nil {
		return nil, err
	}
	if err := write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return srv.Cert.SerialNumber, write(certPath, srv.PEM, 0o644)
}

func newCert(cn string, dns []string, parent *CA, isCA bool) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"FooCorp bench"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		DNSNames:     dns,
	}
	switch {
	case isCA:
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case len(dns) > 0:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	default:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func write(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, mode)
}
