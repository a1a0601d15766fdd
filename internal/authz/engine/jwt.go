package engine

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Envoy jwt_authn status messages (the 401 body).
const (
	msgBadFormat     = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
	msgBadHeader     = "Jwt header is an invalid JSON"
	msgBadPayload    = "Jwt payload is an invalid JSON"
	msgVerifyFail    = "Jwt verification fails"
	msgExpired       = "Jwt is expired"
	msgNotYetValid   = "Jwt not yet valid"
	msgUnknownIssuer = "Jwt issuer is not configured"
	msgAudience      = "Audiences in Jwt are not allowed"
	msgKidAlg        = "Jwks doesn't have key to match kid or alg from Jwt"
	msgJWKSFetch     = "Jwks remote fetch is failed"
	msgInvalidRule   = "Jwt verification fails" // an invalid jwtRule rejects every token
)

// clockSkew is Envoy's default clock_skew_seconds.
const clockSkew = 60 * time.Second

// algorithms accepted in token headers (Envoy's asymmetric algorithms; HS* need symmetric
// keys, which Istio's JWKS handling does not use for RequestAuthentication).
func algorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	}
}

// verified is the outcome of a successful verification.
type verified struct {
	claims map[string]any
	// split holds the space-delimited claims split into lists (scope, permission and the
	// rule's spaceDelimitedClaims).
	split    map[string][]string
	payload  string // base64url of the payload (outputPayloadToHeader)
	provider *provider
	exp      time.Time // zero: no exp claim
}

// provider is one compiled jwtRule.
type provider struct {
	spec      snapshot.JWTProvider
	aud       map[string]bool
	inline    *jose.JSONWebKeySet
	remote    *jwksEntry
	splitKeys []string
	locs      []location // where its tokens are looked for, computed once
	obs       Observer
}

// jwtFilter is Istio's jwt_authn configuration: every provider, "requires any" of them
// with allow_missing (no token passes; a token no provider verifies is rejected).
type jwtFilter struct {
	providers []*provider
	// strip: headers a client must not set (outputs of the filter).
	strip []string
	cache *tokenCache
}

func (rt *Runtime) jwtFilter(specs []snapshot.JWTProvider) (*jwtFilter, error) {
	f := &jwtFilter{cache: newTokenCache(rt.opts.TokenCacheSize)}
	for _, s := range specs {
		p := &provider{spec: s, obs: rt.obs, splitKeys: append([]string{"scope", "permission"}, s.SpaceDelimitedClaims...)}
		p.locs = p.locations()
		if len(s.Audiences) > 0 {
			p.aud = map[string]bool{}
			for _, a := range s.Audiences {
				p.aud[a] = true
			}
		}
		switch {
		case s.Invalid:
		case s.JWKS != "":
			ks, err := parseJWKS([]byte(s.JWKS))
			if err != nil {
				return nil, fmt.Errorf("%s: inline jwks: %w", s.Name, err)
			}
			p.inline = ks
		case s.JWKSURI != "":
			p.remote = rt.jwks(s.JWKSURI, time.Duration(s.TimeoutMillis)*time.Millisecond)
		}
		if s.OutputPayloadToHeader != "" {
			f.strip = append(f.strip, s.OutputPayloadToHeader)
		}
		for _, c := range s.OutputClaimToHeaders {
			f.strip = append(f.strip, c.Header)
		}
		f.providers = append(f.providers, p)
	}
	rt.retainJWKS()
	return f, nil
}

func parseJWKS(data []byte) (*jose.JSONWebKeySet, error) {
	var ks jose.JSONWebKeySet
	if err := json.Unmarshal(data, &ks); err != nil {
		return nil, err
	}
	if len(ks.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	for i, k := range ks.Keys {
		if !k.Valid() || !k.IsPublic() {
			return nil, fmt.Errorf("keys[%d] is not a valid public key", i)
		}
	}
	return &ks, nil
}

// location of one token in a request.
type location struct {
	header, prefix, param, cookie string
}

func (p *provider) locations() []location {
	s := p.spec
	if len(s.FromHeaders) == 0 && len(s.FromParams) == 0 && len(s.FromCookies) == 0 {
		return []location{{header: "Authorization", prefix: "Bearer "}, {param: "access_token"}}
	}
	var out []location
	for _, h := range s.FromHeaders {
		out = append(out, location{header: h.Name, prefix: h.Prefix})
	}
	for _, q := range s.FromParams {
		out = append(out, location{param: q})
	}
	for _, c := range s.FromCookies {
		out = append(out, location{cookie: c})
	}
	return out
}

func (l location) extract(r *http.Request, query url.Values) string {
	switch {
	case l.header != "":
		v := r.Header.Get(l.header)
		if v == "" {
			return ""
		}
		if l.prefix != "" {
			if len(v) < len(l.prefix) || !strings.EqualFold(v[:len(l.prefix)], l.prefix) {
				return ""
			}
			v = v[len(l.prefix):]
		}
		return strings.TrimSpace(v)
	case l.param != "":
		return query.Get(l.param)
	case l.cookie != "":
		if c, err := r.Cookie(l.cookie); err == nil {
			return c.Value
		}
	}
	return ""
}

// authenticate verifies the request's token(s). It returns the verified token (nil when
// no token is present) and the request to continue with, or an Envoy 401 message.
func (f *jwtFilter) authenticate(r *http.Request) (*verified, *http.Request, string) {
	if isCORSPreflight(r) { // Istio sets bypass_cors_preflight
		return nil, r, ""
	}
	var query url.Values
	if r.URL.RawQuery != "" {
		query = r.URL.Query()
	}
	firstErr := ""
	var ok *verified
	var okLoc location
	for _, p := range f.providers {
		for _, l := range p.locs {
			tok := l.extract(r, query)
			if tok == "" {
				continue
			}
			v, msg := f.verify(p, tok)
			p.obs.JWT(p.spec.Name, resultLabel(msg))
			if msg == "" {
				ok, okLoc = v, l
				break
			}
			if firstErr == "" {
				firstErr = msg
			}
		}
		if ok != nil {
			break
		}
	}
	if ok == nil && firstErr != "" {
		return nil, nil, firstErr
	}
	if ok == nil && len(f.strip) == 0 {
		return nil, r, ""
	}
	r2 := cloneHeaders(r)
	for _, h := range f.strip {
		r2.Header.Del(h)
	}
	if ok != nil {
		s := ok.provider.spec
		if !s.ForwardOriginalToken && okLoc.header != "" {
			r2.Header.Del(okLoc.header)
		}
		if s.OutputPayloadToHeader != "" {
			r2.Header.Set(s.OutputPayloadToHeader, ok.payload)
		}
		for _, c := range s.OutputClaimToHeaders {
			if v, found := claimString(ok.claims, c.Claim); found {
				r2.Header.Set(c.Header, v)
			}
		}
	}
	return ok, r2, ""
}

func resultLabel(msg string) string {
	switch msg {
	case "":
		return "verified"
	case msgExpired, msgNotYetValid:
		return "expired"
	case msgJWKSFetch:
		return "jwks_unavailable"
	case msgUnknownIssuer:
		return "unknown_issuer"
	}
	return "invalid"
}

// cloneHeaders returns a shallow copy of r with its own header map.
func cloneHeaders(r *http.Request) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	r2.Header = r.Header.Clone()
	return r2
}

// claimString renders a (dotted, nested) claim as Envoy's claim_to_headers does: strings
// as is, numbers and booleans formatted; other types are not copied.
func claimString(claims map[string]any, name string) (string, bool) {
	var cur any = claims
	for _, k := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = m[k]; !ok {
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10), true
		}
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// verify checks one token against one provider, using the token cache.
func (f *jwtFilter) verify(p *provider, tok string) (*verified, string) {
	now := time.Now()
	if v := f.cache.get(p, tok, now); v != nil {
		return v, ""
	}
	if p.spec.Invalid {
		return nil, msgInvalidRule
	}
	if strings.Count(tok, ".") != 2 {
		return nil, msgBadFormat
	}
	jws, err := jose.ParseSignedCompact(tok, algorithms())
	if err != nil {
		return nil, msgBadHeader
	}
	// The issuer is checked before the signature, as Envoy does.
	raw := jws.UnsafePayloadWithoutVerification()
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, msgBadPayload
	}
	if iss, _ := claims["iss"].(string); iss != p.spec.Issuer {
		return nil, msgUnknownIssuer
	}
	ks := p.inline
	if p.remote != nil {
		if ks = p.remote.keys(); ks == nil {
			return nil, msgJWKSFetch
		}
	}
	if ks == nil {
		return nil, msgVerifyFail
	}
	h := jws.Signatures[0].Header
	var keys []jose.JSONWebKey
	if h.KeyID != "" {
		keys = ks.Key(h.KeyID)
	} else {
		keys = ks.Keys
	}
	verifiedOK, tried := false, false
	for i := range keys {
		k := &keys[i]
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		tried = true
		if _, err := jws.Verify(k); err == nil {
			verifiedOK = true
			break
		}
	}
	if !tried {
		return nil, msgKidAlg
	}
	if !verifiedOK {
		return nil, msgVerifyFail
	}
	v := &verified{claims: claims, provider: p, payload: base64.RawURLEncoding.EncodeToString(raw)}
	if exp, ok := numClaim(claims, "exp"); ok {
		v.exp = time.Unix(int64(exp), 0)
		if now.After(v.exp.Add(clockSkew)) {
			return nil, msgExpired
		}
	}
	if nbf, ok := numClaim(claims, "nbf"); ok && now.Add(clockSkew).Before(time.Unix(int64(nbf), 0)) {
		return nil, msgNotYetValid
	}
	if p.aud != nil && !audienceOK(p.aud, claims["aud"]) {
		return nil, msgAudience
	}
	for _, k := range p.splitKeys {
		if s, ok := claims[k].(string); ok {
			if v.split == nil {
				v.split = map[string][]string{}
			}
			v.split[k] = strings.Fields(s)
		}
	}
	f.cache.put(p, tok, v, now)
	return v, ""
}

func numClaim(c map[string]any, k string) (float64, bool) {
	f, ok := c[k].(float64)
	return f, ok
}

func audienceOK(allowed map[string]bool, aud any) bool {
	switch a := aud.(type) {
	case string:
		return allowed[a]
	case []any:
		for _, e := range a {
			if s, ok := e.(string); ok && allowed[s] {
				return true
			}
		}
	}
	return false
}

// tokenCache remembers verified tokens until they expire (at most maxTokenCacheAge for a
// token without exp), bounded in size: when full it is emptied.
type tokenCache struct {
	mu  sync.Mutex
	max int
	m   map[tokenKey]*verified
}

type tokenKey struct {
	p   *provider
	tok string
}

const maxTokenCacheAge = 5 * time.Minute

func newTokenCache(max int) *tokenCache {
	if max <= 0 {
		max = 4096
	}
	return &tokenCache{max: max, m: map[tokenKey]*verified{}}
}

func (c *tokenCache) get(p *provider, tok string, now time.Time) *verified {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[tokenKey{p, tok}]
	if v == nil {
		return nil
	}
	if !v.exp.IsZero() && now.After(v.exp.Add(clockSkew)) {
		delete(c.m, tokenKey{p, tok})
		return nil
	}
	return v
}

func (c *tokenCache) put(p *provider, tok string, v *verified, now time.Time) {
	if v.exp.IsZero() {
		cp := *v
		cp.exp = now.Add(maxTokenCacheAge).Add(-clockSkew)
		v = &cp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[tokenKey{p, tok}] = v
}

// isCORSPreflight: Envoy's bypass_cors_preflight test (OPTIONS with Origin and
// Access-Control-Request-Method).
func isCORSPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}
