package engine

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/authz/authztest"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// BenchmarkDecide measures Engine.Decide per request: one ALLOW policy with ipBlocks, one
// JWT check (token cache hit, the steady state; and a miss: signature verification), and
// both. BenchmarkRequestPathAuthz in internal/dataplane measures a whole request.
func BenchmarkDecide(b *testing.B) {
	iss := authztest.New(b)
	iss.AddKey(b, "rs", jose.RS256)
	iss.AddKey(b, "es", jose.ES256)
	ipAllow := snapshot.AuthzPolicy{Name: "ns/ips", Action: "ALLOW", Rules: []snapshot.AuthzRule{{
		From: [][]snapshot.Predicate{{{Key: "source.ip", Values: []string{"10.0.0.0/24"}}}},
	}}}
	jwtRule := snapshot.JWTProvider{Name: "ns/jwt/jwtRules[0]", Issuer: iss.Name, JWKS: iss.JWKS()}
	for _, bc := range []struct {
		name    string
		sec     snapshot.Security
		kid     string
		nocache bool
	}{
		{name: "allow-ipBlocks", sec: snapshot.Security{Policies: []snapshot.AuthzPolicy{ipAllow}}},
		{name: "jwt-RS256-cached", sec: snapshot.Security{JWT: []snapshot.JWTProvider{jwtRule}}, kid: "rs"},
		{name: "jwt-RS256-verify", sec: snapshot.Security{JWT: []snapshot.JWTProvider{jwtRule}}, kid: "rs", nocache: true},
		{name: "jwt-ES256-verify", sec: snapshot.Security{JWT: []snapshot.JWTProvider{jwtRule}}, kid: "es", nocache: true},
		{name: "allow-ipBlocks+jwt-cached", sec: snapshot.Security{Policies: []snapshot.AuthzPolicy{ipAllow}, JWT: []snapshot.JWTProvider{jwtRule}}, kid: "rs"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt, err := NewRuntime(RuntimeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(rt.Close)
			e, err := rt.Compile(&bc.sec)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest("GET", "https://www.example.com/api", nil)
			r.RemoteAddr = "10.0.0.1:5555"
			r.TLS = &tls.ConnectionState{ServerName: "www.example.com"}
			if bc.kid != "" {
				r.Header.Set("Authorization", "Bearer "+iss.Token(b, bc.kid, nil))
			}
			b.ReportAllocs()
			for b.Loop() {
				if bc.nocache {
					e.jwt.cache = newTokenCache(0)
				}
				if d, _ := e.Decide(r, 443); !d.Allowed {
					b.Fatalf("denied: %+v", d)
				}
			}
		})
	}
}
