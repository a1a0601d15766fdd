package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// AuthzObserver counts AuthorizationPolicy decisions, JWT checks and JWKS fetches (it
// implements authz.Observer). Label values are policy and provider names and jwksUri
// values from the configuration, so they are bounded by it.
type AuthzObserver struct {
	decisions *prometheus.CounterVec
	jwt       *prometheus.CounterVec
	jwks      *prometheus.CounterVec
}

// Authz returns the authz counters, registering them on first use.
func (m *Metrics) Authz() *AuthzObserver {
	m.authzOnce.Do(func() { m.authz = newAuthzObserver(); m.authz.register(m.reg) })
	return m.authz
}

func newAuthzObserver() *AuthzObserver {
	return &AuthzObserver{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_authz_decisions_total",
			Help: "Requests decided (allow, deny) or matched (audit, dry_run_allow, dry_run_deny) by an AuthorizationPolicy (\"<namespace>/<name>\"; policy=\"\" is the deny of a request no ALLOW policy matched).",
		}, []string{"policy", "action", "decision"}),
		jwt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_jwt_checks_total",
			Help: "JWTs checked, by RequestAuthentication rule (\"<namespace>/<name>/jwtRules[i]\") and result (verified, invalid, expired, unknown_issuer, jwks_unavailable).",
		}, []string{"provider", "result"}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_jwks_fetches_total",
			Help: "jwksUri fetches by URI and result (ok, error).",
		}, []string{"uri", "result"}),
	}
}

func (o *AuthzObserver) register(reg prometheus.Registerer) {
	reg.MustRegister(o.decisions, o.jwt, o.jwks)
}

// Decision implements authz.Observer.
func (o *AuthzObserver) Decision(policy, action, decision string) {
	o.decisions.WithLabelValues(policy, action, decision).Inc()
}

// JWT implements authz.Observer.
func (o *AuthzObserver) JWT(provider, result string) { o.jwt.WithLabelValues(provider, result).Inc() }

// JWKSFetch implements authz.Observer.
func (o *AuthzObserver) JWKSFetch(uri, result string) { o.jwks.WithLabelValues(uri, result).Inc() }
