package authztest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer signs tokens and serves its public keys. Down makes the endpoint answer 503.
type Issuer struct {
	Name   string // the iss claim
	CAFile string // PEM of the endpoint's certificate, to trust for fetches
	Down   atomic.Bool
	Srv    *httptest.Server

	mu     sync.Mutex
	keys   map[string]crypto.Signer
	algs   map[string]jose.SignatureAlgorithm
	served atomic.Pointer[[]byte]
	// Fetches counts requests to the endpoint.
	Fetches atomic.Int64
}

// New starts an issuer named "https://issuer.test" with no keys.
func New(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{Name: "https://issuer.test", keys: map[string]crypto.Signer{}, algs: map[string]jose.SignatureAlgorithm{}}
	empty := []byte(`{"keys":[]}`)
	iss.served.Store(&empty)
	iss.Srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iss.Fetches.Add(1)
		if iss.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*iss.served.Load())
	}))
	t.Cleanup(iss.Srv.Close)
	iss.CAFile = filepath.Join(t.TempDir(), "jwks-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.Srv.Certificate().Raw})
	if err := os.WriteFile(iss.CAFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return iss
}

// URL of the JWKS endpoint.
func (iss *Issuer) URL() string { return iss.Srv.URL + "/.well-known/jwks.json" }

// AddKey generates a key for alg under kid and publishes the key set.
func (iss *Issuer) AddKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) {
	t.Helper()
	var k crypto.Signer
	var err error
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.EdDSA:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	iss.keys[kid], iss.algs[kid] = k, alg
	iss.mu.Unlock()
	iss.publish(t)
}

// RemoveKey withdraws kid from the published key set (tokens can no longer be signed
// with it either).
func (iss *Issuer) RemoveKey(t testing.TB, kid string) {
	iss.mu.Lock()
	delete(iss.keys, kid)
	iss.mu.Unlock()
	iss.publish(t)
}

func (iss *Issuer) publish(t testing.TB) {
	iss.mu.Lock()
	var ks jose.JSONWebKeySet
	for kid, k := range iss.keys {
		ks.Keys = append(ks.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: string(iss.algs[kid]), Use: "sig"})
	}
	iss.mu.Unlock()
	b, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	iss.served.Store(&b)
}

// JWKS is the published key set.
func (iss *Issuer) JWKS() string { return string(*iss.served.Load()) }

// Token signs claims with kid: iss defaults to Name, sub to "alice", exp to an hour from
// now; a nil value removes a claim.
func (iss *Issuer) Token(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	c := map[string]any{"iss": iss.Name, "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	iss.mu.Lock()
	key, alg := iss.keys[kid], iss.algs[kid]
	iss.mu.Unlock()
	if key == nil {
		t.Fatalf("no key %q", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
