package authz

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/authz/authztest"
	"github.com/portcullis/portcullis/internal/authz/engine"
)

func ra(name, rules string) string {
	return "apiVersion: security.istio.io/v1beta1\nkind: RequestAuthentication\nmetadata: {name: " + name + ", namespace: istio-system}\nspec:\n  jwtRules:\n" + rules + "\n---\n"
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// decide returns the status (200 allowed) and the request the router would see.
func decide(e *engine.Engine, q req) (int, string, *http.Request) {
	d, r := e.Decide(q.build(), 443)
	if d.Allowed {
		return 200, "", r
	}
	return d.Status, d.Reason, r
}

func TestJWTInline(t *testing.T) {
	iss := authztest.New(t)
	algs := []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA}
	for _, a := range algs {
		iss.AddKey(t, string(a), a)
	}
	other := authztest.New(t)
	other.AddKey(t, "RS256", jose.RS256) // same kid, different key
	other.AddKey(t, "zzz", jose.ES256)   // a kid the issuer does not have
	jwks, _ := json.Marshal(iss.JWKS())
	e, ds := compile(t, nil, ra("inline", "  - issuer: https://issuer.test\n    audiences: [api]\n    jwks: "+string(jwks))+
		ap("require-jwt", "ALLOW", "  rules: [{from: [{source: {requestPrincipals: ['https://issuer.test/*']}}], to: [{operation: {paths: [/api*]}}]}, {to: [{operation: {notPaths: [/api*]}}]}]"))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	aud := map[string]any{"aud": "api"}
	for _, a := range algs {
		kid := string(a)
		if st, msg, _ := decide(e, req{path: "/api/x", hdr: bearer(iss.Token(t, kid, aud))}); st != 200 {
			t.Errorf("%s: %d %s", kid, st, msg)
		}
	}
	cases := []struct {
		name, tok, path string
		status          int
		msg             string
	}{
		{"no token, public path", "", "/public", 200, ""},
		{"no token, protected path", "", "/api/x", 403, ""},
		{"wrong key", other.Token(t, "RS256", aud), "/public", 401, "Jwt verification fails"},
		{"expired", iss.Token(t, "ES256", map[string]any{"aud": "api", "exp": time.Now().Add(-2 * time.Minute).Unix()}), "/public", 401, "Jwt is expired"},
		{"not yet valid", iss.Token(t, "ES256", map[string]any{"aud": "api", "nbf": time.Now().Add(2 * time.Minute).Unix()}), "/public", 401, "Jwt not yet valid"},
		{"wrong audience", iss.Token(t, "ES256", map[string]any{"aud": []string{"x", "y"}}), "/public", 401, "Audiences in Jwt are not allowed"},
		{"audience list", iss.Token(t, "ES256", map[string]any{"aud": []string{"x", "api"}}), "/api/y", 200, ""},
		{"unknown issuer", iss.Token(t, "ES256", map[string]any{"aud": "api", "iss": "https://evil"}), "/public", 401, "Jwt issuer is not configured"},
		{"unknown kid", other.Token(t, "zzz", aud), "/public", 401, "Jwks doesn't have key to match kid or alg from Jwt"},
		{"garbage", "abc.def", "/public", 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://issuer.test","sub":"x"}`)) + ".", "/api/x", 401, "Jwt header is an invalid JSON"},
		{"tampered payload", tamper(iss.Token(t, "RS256", aud)), "/api/x", 401, "Jwt verification fails"},
	}
	// A CORS preflight skips JWT verification (Istio's bypass_cors_preflight); a plain
	// OPTIONS does not.
	bad := map[string]string{"Authorization": "Bearer x.y.z", "Origin": "https://a", "Access-Control-Request-Method": "GET"}
	if st, _, _ := decide(e, req{method: "OPTIONS", path: "/public", hdr: bad}); st != 200 {
		t.Errorf("CORS preflight: %d", st)
	}
	delete(bad, "Origin")
	if st, _, _ := decide(e, req{method: "OPTIONS", path: "/public", hdr: bad}); st != 401 {
		t.Errorf("OPTIONS without Origin: %d", st)
	}
	for _, c := range cases {
		q := req{path: c.path}
		if c.tok != "" {
			q.hdr = bearer(c.tok)
		}
		st, msg, _ := decide(e, q)
		if st != c.status || (c.msg != "" && msg != c.msg) {
			t.Errorf("%s: got %d %q, want %d %q", c.name, st, msg, c.status, c.msg)
		}
	}
}

// tamper changes the subject of a token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), `"alice"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func TestJWTLocationsAndOutputs(t *testing.T) {
	iss := authztest.New(t)
	iss.AddKey(t, "k1", jose.ES256)
	jwks, _ := json.Marshal(iss.JWKS())
	rules := "  - issuer: https://issuer.test\n    jwks: " + string(jwks) + "\n" +
		"    fromHeaders: [{name: x-jwt, prefix: 'Token '}]\n    fromParams: [tok]\n    fromCookies: [session]\n" +
		"    outputPayloadToHeader: x-payload\n    outputClaimToHeaders: [{header: x-sub, claim: sub}, {header: x-level, claim: org.level}]"
	e, ds := compile(t, nil, ra("loc", rules)+
		ap("claims", "ALLOW", "  rules: [{when: [{key: 'request.auth.claims[org][team]', values: [blue]}, {key: 'request.auth.claims[scope]', values: [write]}]}]"))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	tok := iss.Token(t, "k1", map[string]any{"org": map[string]any{"team": "blue", "level": 3}, "scope": "read write"})
	bad := iss.Token(t, "k1", map[string]any{"org": map[string]any{"team": "red"}, "scope": "read write"})
	for _, q := range []req{
		{hdr: map[string]string{"X-Jwt": "Token " + tok}},
		{path: "/?tok=" + tok},
		{hdr: map[string]string{"Cookie": "session=" + tok}},
	} {
		st, msg, r := decide(e, q)
		if st != 200 {
			t.Fatalf("%+v: %d %s", q, st, msg)
		}
		if r.Header.Get("X-Sub") != "alice" || r.Header.Get("X-Level") != "3" {
			t.Errorf("claim headers: %v", r.Header)
		}
		if r.Header.Get("X-Payload") == "" {
			t.Errorf("no payload header")
		}
		if r.Header.Get("X-Jwt") != "" {
			t.Errorf("token forwarded although forwardOriginalToken is false")
		}
	}
	// The default location is not used when locations are configured.
	if st, _, _ := decide(e, req{hdr: bearer(tok)}); st != 403 {
		t.Errorf("Authorization header used although fromHeaders is set: %d", st)
	}
	if st, _, _ := decide(e, req{hdr: map[string]string{"X-Jwt": "Token " + bad}}); st != 403 {
		t.Errorf("claim mismatch allowed: %d", st)
	}
	// A client cannot inject the output headers.
	if _, _, r := decide(e, req{hdr: map[string]string{"X-Sub": "root", "X-Jwt": "Token " + tok}}); r == nil || r.Header.Get("X-Sub") != "alice" {
		t.Errorf("injected X-Sub survived")
	}
}

func TestJWKSRemote(t *testing.T) {
	iss := authztest.New(t)
	iss.AddKey(t, "old", jose.RS256)
	rt, err := engine.NewRuntime(engine.RuntimeOptions{JWKSCAFile: iss.CAFile, JWKSRefresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	e, ds := compile(t, rt, ra("remote", "  - issuer: https://issuer.test\n    jwksUri: "+iss.URL()+"\n    forwardOriginalToken: true"))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	oldTok := iss.Token(t, "old", nil)
	waitStatus(t, e, oldTok, 200)
	if _, _, r := decide(e, req{hdr: bearer(oldTok)}); r.Header.Get("Authorization") == "" {
		t.Error("forwardOriginalToken: true stripped the token")
	}

	// Rotation: a new key appears, the old one is withdrawn.
	iss.AddKey(t, "new", jose.ES256)
	iss.RemoveKey(t, "old")
	newTok := iss.Token(t, "new", nil)
	waitStatus(t, e, newTok, 200)

	// The endpoint goes down: cached keys keep verifying, other tokens stay rejected.
	iss.Down.Store(true)
	time.Sleep(300 * time.Millisecond)
	if st, msg, _ := decide(e, req{hdr: bearer(iss.Token(t, "new", map[string]any{"sub": "bob"}))}); st != 200 {
		t.Errorf("cached key lost while the endpoint is down: %d %s", st, msg)
	}
	forged := authztest.New(t)
	forged.AddKey(t, "new", jose.ES256)
	if st, _, _ := decide(e, req{hdr: bearer(forged.Token(t, "new", nil))}); st != 401 {
		t.Errorf("unverifiable token while the endpoint is down: %d", st)
	}
}

func TestJWKSNeverFetched(t *testing.T) {
	iss := authztest.New(t)
	iss.AddKey(t, "k", jose.RS256)
	iss.Down.Store(true)
	rt, err := engine.NewRuntime(engine.RuntimeOptions{JWKSCAFile: iss.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	e, _ := compile(t, rt, ra("down", "  - issuer: https://issuer.test\n    jwksUri: "+iss.URL()))
	if st, msg, _ := decide(e, req{hdr: bearer(iss.Token(t, "k", nil))}); st != 401 || msg != "Jwks remote fetch is failed" {
		t.Errorf("got %d %q", st, msg)
	}
	if st, _, _ := decide(e, req{}); st != 200 {
		t.Errorf("no token: %d", st)
	}
}

func waitStatus(t *testing.T, e *engine.Engine, tok string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, msg, _ := decide(e, req{hdr: bearer(tok)})
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %q, want %d", st, msg, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
