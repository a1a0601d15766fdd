package listener

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestVerifierMatchesX509 runs named chain shapes through our verifier and the reference,
// and pins the expected answer so that a shape that stopped testing what it says (both
// accepting everything, say) fails too.
func TestVerifierMatchesX509(t *testing.T) {
	p := newPKI(t)
	cases := []struct {
		name   string
		shape  chainShape
		accept bool
	}{
		{"leaf under root", chainShape{}, true},
		{"walkthrough: intermediate sent and in bundle", chainShape{inters: 1, poolInter: true}, true},
		{"intermediate sent, root in bundle", chainShape{inters: 1}, true},
		{"two intermediates", chainShape{inters: 2}, true},
		{"intermediate missing", chainShape{inters: 1, omitInter: true}, false},
		{"intermediate missing but in bundle", chainShape{inters: 1, omitInter: true, poolInter: true}, true},
		{"expired leaf", chainShape{leafTime: 1}, false},
		{"leaf not yet valid", chainShape{leafTime: 2}, false},
		{"expired intermediate", chainShape{inters: 1, interTime: 1}, false},
		{"intermediate not yet valid", chainShape{inters: 1, interTime: 2}, false},
		{"leaf serverAuth only", chainShape{leafEKU: 1}, false},
		{"leaf without EKU", chainShape{leafEKU: 2}, true}, // no EKU = any usage (RFC 5280)
		{"leaf anyExtendedKeyUsage", chainShape{leafEKU: 3}, true},
		{"leaf serverAuth and clientAuth", chainShape{leafEKU: 4}, true},
		{"intermediate restricted to serverAuth", chainShape{inters: 1, interEKU: 2}, false},
		{"intermediate restricted to clientAuth", chainShape{inters: 1, interEKU: 1}, true},
		{"unknown issuer: another host's CA", chainShape{otherRoot: true}, false},
		{"another host's CA through an intermediate", chainShape{otherRoot: true, inters: 1}, false},
		{"chain longer than the path length allows", chainShape{inters: 2, pathLenMax: true}, false},
		{"path length zero, one intermediate", chainShape{inters: 1, pathLenMax: true}, true},
		{"revoked leaf", chainShape{revoke: 1}, false},
		{"revoked leaf under an intermediate", chainShape{inters: 1, revoke: 1}, false},
		{"revoked intermediate", chainShape{inters: 1, revoke: 2}, false},
		{"revoked intermediate also in bundle", chainShape{inters: 1, poolInter: true, revoke: 2}, false},
		{"revoked lower of two intermediates", chainShape{inters: 2, revoke: 2}, false},
		{"leaf serial listed by another CA's CRL", chainShape{revoke: 3}, true},
		{"revoked root (self-issued CRL)", chainShape{revoke: 4}, false},
		{"SAN required and present", chainShape{sans: 1}, true},
		{"SAN required and absent", chainShape{sans: 2}, false},
		{"cached, then the leaf expires", chainShape{inters: 1, poolInter: true, later: 1}, true},
		{"cached, then a day later", chainShape{inters: 1, later: 2}, true},
		{"cached, then a presented renewal of the intermediate becomes valid", chainShape{inters: 1, twin: 1, later: 3}, true},
		{"cached, then a revoked presented renewal becomes valid", chainShape{inters: 1, twin: 1, revoke: 5, later: 3}, true},
		{"cached, then a revoked renewal in the bundle becomes valid", chainShape{inters: 1, twin: 2, revoke: 5, later: 3}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := compare(t, p.build(t, c.shape)); got != c.accept {
				t.Fatalf("accepted=%v, want %v (both verifiers agree)", got, c.accept)
			}
		})
	}
}

// FuzzVerifierMatchesX509: the input chooses a chain shape (never raw DER); ours and the
// reference must agree at both check times.
func FuzzVerifierMatchesX509(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), uint8(0))
	f.Add(uint8(0x16), uint8(0x21), uint8(0x12), uint8(0x05))
	f.Add(uint8(0xff), uint8(0xff), uint8(0xff), uint8(0xff))
	f.Add(uint8(0x02), uint8(0x40), uint8(0x03), uint8(0x1a))
	p := newPKI(f)
	f.Fuzz(func(t *testing.T, a, b, c, d uint8) {
		s := chainShape{
			inters:     int(a&3) % 3,
			omitInter:  a&4 != 0,
			poolInter:  a&8 != 0,
			otherRoot:  a&16 != 0,
			pathLenMax: a&32 != 0,
			leafTime:   int(b&3) % 3,
			interTime:  int(b>>2&3) % 3,
			leafEKU:    int(b>>4) % 5,
			interEKU:   int(c&3) % 3,
			revoke:     int(c>>2&7) % 6,
			twin:       int(c>>5&3) % 3,
			sans:       int(d&3) % 3,
			later:      int(d >> 2 & 3),
		}
		compare(t, p.build(t, s))
	})
}

// TestVerifierCacheAfterCARotation: a chain verified (and cached) under one CA bundle is
// judged afresh when the credential's bundle changes: the table is rebuilt, and the new
// server's verifier agrees with x509.Verify under the new bundle, for open connections
// (admit) as for new handshakes.
func TestVerifierCacheAfterCARotation(t *testing.T) {
	p := newPKI(t)
	b := p.build(t, chainShape{inters: 1, poolInter: true})
	cs := &tls.ConnectionState{PeerCertificates: b.presented}
	ref := snapshot.CredentialRef{Secret: "ns/a", NeedCA: true}
	srv := []snapshot.Server{{Name: "s", Hosts: []string{"a.example.com"},
		TLS: &snapshot.TLS{Mode: snapshot.TLSMutual, Credential: ref}}}
	table := func(pool *x509.CertPool, fp string) *Server {
		cred := Credential{Certificate: &tls.Certificate{}, ClientCAs: pool, CAFingerprint: fp, Version: fp}
		tk := Tickets{Secret: []byte("x"), Now: func() time.Time { return t0 }}
		s := NewTable(srv, staticCreds{ref.Key(): cred}, tk, slog.New(slog.DiscardHandler)).Server("s")
		if !s.Ready() {
			t.Fatal("server not ready")
		}
		return s
	}
	before := table(b.pool, "ca1")
	for range 2 { // the second is answered from the cache
		if err := before.admit(cs); err != nil {
			t.Fatalf("accepted by x509.Verify, rejected by ours: %v", err)
		}
	}
	rotated := x509.NewCertPool()
	rotated.AddCert(b.other) // the bundle now trusts another CA only
	after := table(rotated, "ca2")
	if after.ClientAuth == before.ClientAuth {
		t.Fatal("client-auth identity unchanged by a CA rotation")
	}
	b.pool = rotated
	ref2 := reference(b, t0)
	if err := after.admit(cs); (err == nil) != (ref2 == nil) || err == nil {
		t.Fatalf("after rotation: ours=%v, reference=%v (want both to reject)", err, ref2)
	}
}

// reference decides with x509.Verify and the documented SAN and CRL rules.
func reference(b built, at time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range b.presented[1:] {
		inter.AddCert(c)
	}
	leaf := b.presented[0]
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: b.pool, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return err
	}
	if len(b.sans) > 0 {
		var have []string
		have = append(have, leaf.DNSNames...)
		have = append(have, leaf.EmailAddresses...)
		for _, ip := range leaf.IPAddresses {
			have = append(have, ip.String())
		}
		for _, u := range leaf.URIs {
			have = append(have, u.String())
		}
		ok := false
		for _, h := range have {
			for _, s := range b.sans {
				ok = ok || h == s
			}
		}
		if !ok {
			return fmt.Errorf("no allowed SAN")
		}
	}
	for _, chain := range append(chains, []*x509.Certificate{leaf}) {
		for _, c := range chain {
			for _, crl := range b.crls {
				if !bytes.Equal(crl.RawIssuer, c.RawIssuer) {
					continue
				}
				for _, e := range crl.RevokedCertificateEntries {
					if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
						return fmt.Errorf("%s revoked", c.Subject.CommonName)
					}
				}
			}
		}
	}
	return nil
}

type staticCreds map[string]Credential

func (c staticCreds) Lookup(k string) (Credential, bool) { v, ok := c[k]; return v, ok }
