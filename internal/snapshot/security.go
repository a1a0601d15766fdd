package snapshot

// Security is the access control of the gateway: the AuthorizationPolicies and the
// RequestAuthentication JWT rules that select it, resolved and validated by the translator
// (internal/authz) and compiled by the dataplane. Nil (or empty) means no policy: the
// request path does nothing extra.
type Security struct {
	// Policies in the order the translator found them; evaluation order is by Action
	// (CUSTOM, DENY, ALLOW; AUDIT alongside), as in Istio.
	Policies []AuthzPolicy `json:"authorizationPolicies,omitempty"`
	// JWT providers, one per jwtRules[] entry of every RequestAuthentication that applies.
	JWT []JWTProvider `json:"jwtProviders,omitempty"`
}

// Empty reports whether s enforces nothing.
func (s *Security) Empty() bool { return s == nil || (len(s.Policies) == 0 && len(s.JWT) == 0) }

// AuthzPolicy is one AuthorizationPolicy.
type AuthzPolicy struct {
	Name   string `json:"name"`   // "<namespace>/<name>"
	Action string `json:"action"` // ALLOW, DENY, AUDIT or CUSTOM
	// DryRun (annotation istio.io/dry-run: "true"): evaluated and counted, never enforced.
	DryRun bool `json:"dryRun,omitempty"`
	// Provider of a CUSTOM policy (not implemented: its matches are denied).
	Provider string      `json:"provider,omitempty"`
	Rules    []AuthzRule `json:"rules"`
}

// AuthzRule is one rules[] entry: it matches when one From (if any) and one To (if any)
// match and every When holds. Each From/To is an AND of predicates.
type AuthzRule struct {
	// Invalid is set when the rule cannot be enforced (the reason). It fails closed: in a
	// DENY or CUSTOM policy it matches every request, in an ALLOW policy none.
	Invalid string        `json:"invalid,omitempty"`
	From    [][]Predicate `json:"from,omitempty"`
	To      [][]Predicate `json:"to,omitempty"`
	When    []Predicate   `json:"when,omitempty"`
}

// Predicate holds when the request attribute Key matches one of Values (Istio's value
// syntax for that attribute: "*" presence, "*suffix", "prefix*", CIDRs, path templates);
// Not negates it (the not* fields and notValues).
type Predicate struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
	Not    bool     `json:"not,omitempty"`
}

// JWTProvider is one RequestAuthentication jwtRules[] entry.
type JWTProvider struct {
	Name                  string          `json:"name"` // "<namespace>/<name>/jwtRules[i]"
	Issuer                string          `json:"issuer"`
	Audiences             []string        `json:"audiences,omitempty"`
	JWKSURI               string          `json:"jwksUri,omitempty"`
	JWKS                  string          `json:"jwks,omitempty"`
	FromHeaders           []JWTHeader     `json:"fromHeaders,omitempty"`
	FromParams            []string        `json:"fromParams,omitempty"`
	FromCookies           []string        `json:"fromCookies,omitempty"`
	OutputPayloadToHeader string          `json:"outputPayloadToHeader,omitempty"`
	ForwardOriginalToken  bool            `json:"forwardOriginalToken,omitempty"`
	OutputClaimToHeaders  []ClaimToHeader `json:"outputClaimToHeaders,omitempty"`
	TimeoutMillis         int64           `json:"timeoutMillis,omitempty"`
	SpaceDelimitedClaims  []string        `json:"spaceDelimitedClaims,omitempty"`
	// Invalid: the rule cannot be enforced (see the diagnostics); it fails closed: every
	// token presented to it is rejected (401).
	Invalid bool `json:"invalid,omitempty"`
}

// JWTHeader is a header a token is read from, with the prefix stripped before it.
type JWTHeader struct {
	Name   string `json:"name"`
	Prefix string `json:"prefix,omitempty"`
}

// ClaimToHeader copies a claim of a verified token into a request header.
type ClaimToHeader struct {
	Header string `json:"header"`
	Claim  string `json:"claim"`
}
