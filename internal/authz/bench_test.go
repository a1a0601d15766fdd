package authz

import (
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/authz/authztest"
)

// BenchmarkDecide measures Engine.Decide per request: one ALLOW policy with ipBlocks, one
// JWT check (token cache hit, the steady state; and a miss: signature verification), and
// both. Compare with BenchmarkRequestPath in internal/dataplane for the whole request.
func BenchmarkDecide(b *testing.B) {
	iss := authztest.New(b)
	iss.AddKey(b, "rs", jose.RS256)
	iss.AddKey(b, "es", jose.ES256)
	jwks, _ := json.Marshal(iss.JWKS())
	ipAllow := ap("ips", "ALLOW", "  rules: [{from: [{source: {ipBlocks: [10.0.0.0/24]}}]}]")
	jwtRule := ra("jwt", "  - issuer: https://issuer.test\n    jwks: "+string(jwks))
	for _, bc := range []struct {
		name, manifests, kid string
		nocache              bool
	}{
		{name: "allow-ipBlocks", manifests: ipAllow},
		{name: "jwt-RS256-cached", manifests: jwtRule, kid: "rs"},
		{name: "jwt-RS256-verify", manifests: jwtRule, kid: "rs", nocache: true},
		{name: "jwt-ES256-verify", manifests: jwtRule, kid: "es", nocache: true},
		{name: "allow-ipBlocks+jwt-cached", manifests: ipAllow + jwtRule, kid: "rs"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, _ := engine(b, nil, bc.manifests)
			q := req{path: "/api"}
			if bc.kid != "" {
				q.hdr = bearer(iss.Token(b, bc.kid, nil))
			}
			r := q.build()
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
