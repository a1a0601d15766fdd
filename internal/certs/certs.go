package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"time"
)

// Key types.
const (
	ECDSAP256 = "ecdsa-p256"
	RSA2048   = "rsa2048"
)

// Options configure Generate and IssueServer.
type Options struct {
	Dir   string   // output directory; one sub-directory per host
	Hosts []string // e.g. frontend.foocorp.com
	// KeyType is ECDSAP256 (default) or RSA2048.
	KeyType string
	// Validity of server and client certificates (default 365 days). The intermediate CA
	// lives 5x and the root 10x as long.
	Validity time.Duration
	// Clock for NotBefore/NotAfter (default time.Now).
	Clock func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	if o.KeyType == "" {
		o.KeyType = ECDSAP256
	}
	if o.KeyType != ECDSAP256 && o.KeyType != RSA2048 {
		return o, fmt.Errorf("key type %q: must be %s or %s", o.KeyType, ECDSAP256, RSA2048)
	}
	if o.Validity <= 0 {
		o.Validity = 365 * 24 * time.Hour
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o, nil
}

// Paths of one host's PKI, relative to Dir.
type Paths struct {
	RootKey, RootCert                        string
	IntermediateKey, IntermediateCert, Chain string
	ServerKey, ServerCert                    string
	ClientKey, ClientCert                    string
}

// PathsFor returns where the files of host live under dir.
func PathsFor(dir, host string) Paths {
	h := filepath.Join(dir, host)
	return Paths{
		RootKey:          filepath.Join(h, "1_root", "private", "ca.key.pem"),
		RootCert:         filepath.Join(h, "1_root", "certs", "ca.cert.pem"),
		IntermediateKey:  filepath.Join(h, "2_intermediate", "private", "intermediate.key.pem"),
		IntermediateCert: filepath.Join(h, "2_intermediate", "certs", "intermediate.cert.pem"),
		Chain:            filepath.Join(h, "2_intermediate", "certs", "ca-chain.cert.pem"),
		ServerKey:        filepath.Join(h, "3_application", "private", host+".key.pem"),
		ServerCert:       filepath.Join(h, "3_application", "certs", host+".cert.pem"),
		ClientKey:        filepath.Join(h, "4_client", "private", host+".key.pem"),
		ClientCert:       filepath.Join(h, "4_client", "certs", host+".cert.pem"),
	}
}

// Generate writes a separate PKI for every host: root, intermediate, server and client.
// Existing files are overwritten.
func Generate(opts Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if o.Dir == "" {
		return errors.New("dir: must be set")
	}
	if len(o.Hosts) == 0 {
		return errors.New("hosts: at least one host is required")
	}
	for _, h := range o.Hosts {
		if err := generateHost(o, h); err != nil {
			return fmt.Errorf("host %s: %w", h, err)
		}
	}
	return nil
}

func generateHost(o Options, host string) error {
	if err := checkHost(host); err != nil {
		return err
	}
	p := PathsFor(o.Dir, host)
	now := o.Clock()
	root, err := newCert(o.KeyType, &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"portcullis"}, CommonName: host + " Root CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * o.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil)
	if err != nil {
		return fmt.Errorf("root CA: %w", err)
	}
	inter, err := newCert(o.KeyType, &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"portcullis"}, CommonName: host + " Intermediate CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * o.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, root)
	if err != nil {
		return fmt.Errorf("intermediate CA: %w", err)
	}
	if err := root.write(p.RootKey, p.RootCert); err != nil {
		return err
	}
	if err := inter.write(p.IntermediateKey, p.IntermediateCert); err != nil {
		return err
	}
	if err := writeFile(p.Chain, append(certPEM(inter.der), certPEM(root.der)...), 0o644); err != nil {
		return err
	}
	if err := issueServer(o, host, inter); err != nil {
		return err
	}
	client, err := newCert(o.KeyType, leafTemplate(o, host+" client", nil, x509.ExtKeyUsageClientAuth), inter)
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	return client.writeChain(p.ClientKey, p.ClientCert, inter)
}

// IssueServer issues a new server certificate (new key, new serial) for host from its
// existing intermediate CA under dir and overwrites 3_application. Tests and the demo
// use it to rotate certificates. Only KeyType, Validity and Clock of opts are used.
func IssueServer(dir, host string, opts Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if err := checkHost(host); err != nil {
		return err
	}
	o.Dir = dir
	p := PathsFor(dir, host)
	inter, err := loadCA(p.IntermediateKey, p.IntermediateCert)
	if err != nil {
		return fmt.Errorf("host %s: intermediate CA: %w", host, err)
	}
	if err := issueServer(o, host, inter); err != nil {
		return fmt.Errorf("host %s: %w", host, err)
	}
	return nil
}

func issueServer(o Options, host string, inter *issued) error {
	p := PathsFor(o.Dir, host)
	srv, err := newCert(o.KeyType, leafTemplate(o, host, []string{host}, x509.ExtKeyUsageServerAuth), inter)
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	return srv.writeChain(p.ServerKey, p.ServerCert, inter)
}

func leafTemplate(o Options, cn string, dns []string, eku x509.ExtKeyUsage) *x509.Certificate {
	now := o.Clock()
	ku := x509.KeyUsageDigitalSignature
	if o.KeyType == RSA2048 {
		ku |= x509.KeyUsageKeyEncipherment
	}
	return &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"portcullis"}, CommonName: cn},
		DNSNames:    dns,
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(o.Validity),
		KeyUsage:    ku,
		ExtKeyUsage: []x509.ExtKeyUsage{eku},
	}
}

// checkHost rejects names that would escape dir or cannot be a DNS name.
func checkHost(h string) error {
	if h == "" || h == "." || h == ".." || strings.ContainsAny(h, `/\ `) {
		return fmt.Errorf("host %q: not a valid host name", h)
	}
	return nil
}

// issued is a certificate with its key.
type issued struct {
	key  crypto.Signer
	cert *x509.Certificate
	der  []byte
}

// newCert creates a key and a certificate from tmpl, signed by parent (self-signed if nil).
func newCert(keyType string, tmpl *x509.Certificate, parent *issued) (*issued, error) {
	key, err := newKey(keyType)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	signer, issuer := key, tmpl
	if parent != nil {
		signer, issuer = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &issued{key: key, cert: cert, der: der}, nil
}

func newKey(keyType string) (crypto.Signer, error) {
	if keyType == RSA2048 {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}
