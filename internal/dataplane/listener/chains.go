package listener

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// chainCacheSize bounds the verified chains a Server remembers; when full, it starts over.
const chainCacheSize = 4096

// chainCacheTTL bounds how long a verification is remembered at all. A certificate of
// the CA bundle that is not valid yet when a chain is verified (a renewed CA starting in
// the future) may complete another chain once it is, and that chain is subject to the
// CRL check too; the pool does not list its certificates, so such a change is seen
// within this time instead of at once. Presented certificates are handled exactly (see
// verify).
const chainCacheTTL = time.Minute

// chainVerifier verifies client certificate chains against one Server's client CAs
// exactly as crypto/tls does for RequireAndVerifyClientCert (x509.Verify with the CA pool
// as roots, the other presented certificates as intermediates, client-auth key usage, the
// current time), and remembers the chains it verified. A client that connects again with
// the same certificates, while every certificate of those chains is valid and none it
// presented changed validity (and for at most chainCacheTTL), skips the signature
// checks: with the walkthrough's PKI (the client sends its intermediate, which is also
// in the CA bundle) x509.Verify checks three ECDSA signatures per handshake, a fifth of
// a full handshake's CPU. Only successes are
// remembered; a chain that fails is verified again on every attempt.
//
// The cache belongs to one Server's tls.Config, which is rebuilt whenever its credential
// (CA bundle, CRLs) changes, so a CA change empties it.
type chainVerifier struct {
	roots *x509.CertPool
	now   func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]verifiedChains
}

type verifiedChains struct {
	chains [][]*x509.Certificate
	// The same chains, no more and no fewer, verify within [from, till]: every certificate
	// of every chain is valid, and no presented certificate changes validity.
	from, till time.Time
	at         time.Time // when verified (see chainCacheTTL)
}

func newChainVerifier(roots *x509.CertPool, now func() time.Time) *chainVerifier {
	return &chainVerifier{roots: roots, now: now, cache: map[[32]byte]verifiedChains{}}
}

// verify returns the verified chains of certs (leaf first, as presented).
func (v *chainVerifier) verify(certs []*x509.Certificate) ([][]*x509.Certificate, error) {
	if v.roots == nil { // never fall back to the system roots
		return nil, errors.New("no client CA certificates")
	}
	key := chainKey(certs)
	now := v.now()
	v.mu.Lock()
	e, ok := v.cache[key]
	v.mu.Unlock()
	if ok && !now.Before(e.from) && !now.After(e.till) && !now.Before(e.at) && now.Sub(e.at) < chainCacheTTL {
		return e.chains, nil
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	e = verifiedChains{chains: chains, at: now}
	for _, chain := range chains {
		for _, c := range chain {
			if e.from.IsZero() || c.NotBefore.After(e.from) {
				e.from = c.NotBefore
			}
			if e.till.IsZero() || c.NotAfter.Before(e.till) {
				e.till = c.NotAfter
			}
		}
	}
	// A presented certificate outside its validity now is in no chain, but may be in one
	// at another time (a renewed intermediate sent along with the old one, valid from
	// tomorrow and revoked, say): the answer holds only while none changes validity.
	for _, c := range certs {
		if c.NotBefore.After(now) && c.NotBefore.Add(-time.Nanosecond).Before(e.till) {
			e.till = c.NotBefore.Add(-time.Nanosecond)
		}
		if c.NotAfter.Before(now) && c.NotAfter.Add(time.Nanosecond).After(e.from) {
			e.from = c.NotAfter.Add(time.Nanosecond)
		}
	}
	v.mu.Lock()
	if len(v.cache) >= chainCacheSize {
		clear(v.cache)
	}
	v.cache[key] = e
	v.mu.Unlock()
	return chains, nil
}

// chainKey identifies a presented chain by all its certificates' bytes (length-prefixed,
// so no two different lists collide).
func chainKey(certs []*x509.Certificate) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, c := range certs {
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}
