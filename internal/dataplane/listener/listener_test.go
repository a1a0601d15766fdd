package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTicketKeysDiffer(t *testing.T) {
	secret := []byte("secret")
	base := ticketKey(secret, "gw/a", "MUTUAL|ca=1", "secret:ns/a", "v1")
	cases := map[string][32]byte{
		"other server":   ticketKey(secret, "gw/b", "MUTUAL|ca=1", "secret:ns/a", "v1"),
		"other CA":       ticketKey(secret, "gw/a", "MUTUAL|ca=2", "secret:ns/a", "v1"),
		"other version":  ticketKey(secret, "gw/a", "MUTUAL|ca=1", "secret:ns/a", "v2"),
		"other secret":   ticketKey([]byte("other"), "gw/a", "MUTUAL|ca=1", "secret:ns/a", "v1"),
		"shifted fields": ticketKey(secret, "gw/aMUTUAL|ca=1", "", "secret:ns/a", "v1"),
	}
	for name, k := range cases {
		if k == base {
			t.Errorf("%s: same ticket key", name)
		}
	}
	if ticketKey(secret, "gw/a", "MUTUAL|ca=1", "secret:ns/a", "v1") != base {
		t.Error("ticket key is not deterministic")
	}
}

func TestNextProtos(t *testing.T) {
	cases := []struct {
		name   string
		suites []uint16
		want   []string
	}{
		{"defaults", nil, []string{"h2", "http/1.1"}},
		{"h2 suite present", []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, []string{"h2", "http/1.1"}},
		{"no h2 suite", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, []string{"http/1.1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, nextProtos(tc.suites)); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

func TestVerifier(t *testing.T) {
	issuer := []byte("issuer")
	u, _ := url.Parse("spiffe://td/ns/a/sa/b")
	cert := func(serial int64, dns ...string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), RawIssuer: issuer, DNSNames: dns,
			URIs: []*url.URL{u}, EmailAddresses: []string{"ops@foo.com"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}
	}
	crl := &x509.RevocationList{RawIssuer: issuer, RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(7)}}}
	cases := []struct {
		name string
		sans []string
		cert *x509.Certificate
		ok   bool
	}{
		{"no SAN policy", nil, cert(1), true},
		{"DNS SAN", []string{"a.foo.com"}, cert(1, "a.foo.com"), true},
		{"URI SAN", []string{"spiffe://td/ns/a/sa/b"}, cert(1), true},
		{"email SAN", []string{"ops@foo.com"}, cert(1), true},
		{"IP SAN", []string{"10.0.0.1"}, cert(1), true},
		{"no matching SAN", []string{"b.foo.com"}, cert(1, "a.foo.com"), false},
		{"revoked", nil, cert(7), false},
		{"same serial, other issuer", nil, &x509.Certificate{SerialNumber: big.NewInt(7), RawIssuer: []byte("x")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier("gw/a", x509.NewCertPool(), tc.sans, []*x509.RevocationList{crl}, time.Now)
			err := v.checkPolicy(tc.cert, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		conn *Conn
		err  error
		want string
	}{
		{"decided during handshake", &Conn{hello: true, failure: ReasonUnknownSNI}, errors.New("x"), ReasonUnknownSNI},
		{"our verifier", &Conn{hello: true}, fmt.Errorf("w: %w", &VerifyError{Reason: ReasonBadClientCert}), ReasonBadClientCert},
		{"chain verification", &Conn{hello: true}, &tls.CertificateVerificationError{Err: errors.New("x")}, ReasonBadClientCert},
		{"no certificate", &Conn{hello: true}, errors.New("tls: client didn't provide a certificate"), ReasonNoClientCert},
		{"not tls", &Conn{}, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ReasonProtocol},
		{"bad hello", &Conn{hello: true}, errors.New("tls: no cipher suite supported by both client and server"), ReasonProtocol},
		{"closed before hello", &Conn{}, io.EOF, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.conn, tc.err); got != tc.want {
				t.Fatalf("classify = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTicketKeyRotation(t *testing.T) {
	secret := []byte("secret")
	at := func(epoch uint64) [][32]byte { return Tickets{Secret: secret, Epoch: epoch}.keys("gw/a", "MUTUAL") }
	issued := at(5)[0]
	if got := at(6); got[1] != issued {
		t.Fatal("a ticket of the previous epoch no longer decrypts")
	}
	for _, k := range at(7) {
		if k == issued {
			t.Fatal("a ticket two epochs old still decrypts")
		}
	}
}
