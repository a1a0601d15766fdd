package engine

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Envoy's local replies.
const (
	// DeniedBody is the body of Envoy's RBAC filter's 403.
	DeniedBody = "RBAC: access denied"
)

// Engine is the compiled security of one snapshot. A nil *Engine enforces nothing.
type Engine struct {
	rt *Runtime

	custom, deny, allow, audit []*policy
	// enforceAllow: at least one enforced (not dry-run) ALLOW policy exists, so a request
	// no ALLOW policy matches is denied.
	enforceAllow bool
	jwt          *jwtFilter
	sec          *snapshot.Security
}

type policy struct {
	name, action string
	dryRun       bool
	rules        []*rule
	obs          policyObserver
}

type rule struct {
	invalid  bool // fails closed per action
	from, to [][]pred
	when     []pred
}

type pred struct {
	m   matcher
	not bool
}

// reqCtx is one request's attributes, computed lazily.
type reqCtx struct {
	r     *http.Request
	port  uint32
	hops  int
	jwt   *verified
	extra struct {
		peer, remote, local           netip.Addr
		peerDone, remoteDone, locDone bool
		principal                     string
		principalOK, principalDone    bool
	}
}

// Compile builds the engine of sec. It returns nil for an empty sec (the request path then
// does nothing). Errors mean the translator let through something it should have rejected;
// the caller rejects the snapshot.
func (rt *Runtime) Compile(sec *snapshot.Security) (*Engine, error) {
	if sec.Empty() {
		rt.retainJWKS() // no jwksUri in use: stop every refresh loop
		return nil, nil
	}
	e := &Engine{rt: rt, sec: sec}
	for _, sp := range sec.Policies {
		p := &policy{name: sp.Name, action: sp.Action, dryRun: sp.DryRun, obs: rt.obs}
		for _, sr := range sp.Rules {
			r, err := compileRule(sr)
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", sp.Name, err)
			}
			p.rules = append(p.rules, r)
		}
		switch sp.Action {
		case "CUSTOM":
			e.custom = append(e.custom, p)
		case "DENY":
			e.deny = append(e.deny, p)
		case "ALLOW":
			e.allow = append(e.allow, p)
			e.enforceAllow = e.enforceAllow || !sp.DryRun
		case "AUDIT":
			e.audit = append(e.audit, p)
		default:
			return nil, fmt.Errorf("policy %s: unknown action %q", sp.Name, sp.Action)
		}
	}
	if len(sec.JWT) > 0 {
		f, err := rt.jwtFilter(sec.JWT)
		if err != nil {
			return nil, err
		}
		e.jwt = f
	} else {
		rt.retainJWKS()
	}
	return e, nil
}

func compileRule(sr snapshot.AuthzRule) (*rule, error) {
	r := &rule{invalid: sr.Invalid != ""}
	if r.invalid {
		return r, nil
	}
	comp := func(ps []snapshot.Predicate) ([]pred, error) {
		out := make([]pred, 0, len(ps))
		for _, p := range ps {
			m, err := compileMatcher(p.Key, p.Values)
			if err != nil {
				return nil, err
			}
			out = append(out, pred{m: m, not: p.Not})
		}
		return out, nil
	}
	for _, f := range sr.From {
		ps, err := comp(f)
		if err != nil {
			return nil, err
		}
		r.from = append(r.from, ps)
	}
	for _, t := range sr.To {
		ps, err := comp(t)
		if err != nil {
			return nil, err
		}
		r.to = append(r.to, ps)
	}
	w, err := comp(sr.When)
	if err != nil {
		return nil, err
	}
	r.when = w
	return r, nil
}

func all(ps []pred, c *reqCtx) bool {
	for _, p := range ps {
		if p.m(c) == p.not {
			return false
		}
	}
	return true
}

func anyOf(groups [][]pred, c *reqCtx) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		if all(g, c) {
			return true
		}
	}
	return false
}

// matches reports whether the rule matches; an invalid rule matches unless the policy
// allows (fail closed).
func (r *rule) matches(c *reqCtx, action string) bool {
	if r.invalid {
		return action != "ALLOW"
	}
	return anyOf(r.from, c) && anyOf(r.to, c) && all(r.when, c)
}

func (p *policy) matches(c *reqCtx) bool {
	for _, r := range p.rules {
		if r.matches(c, p.action) {
			return true
		}
	}
	return false
}

// Decision is the outcome of Check, for logs and explain.
type Decision struct {
	Allowed bool
	Status  int    // 401 or 403 when denied
	Policy  string // the deciding policy ("" for the default deny of unmatched ALLOW)
	Reason  string
}

// Check runs RequestAuthentication then the authorization policies on r (whose path is
// already normalized as the router sees it) received on gateway port. When the request is
// allowed it returns the request to route (headers changed by the JWT filter) and true;
// otherwise it has written the 401/403 reply and returns false.
func (e *Engine) Check(w http.ResponseWriter, r *http.Request, port uint32) (*http.Request, bool) {
	d, r2 := e.Decide(r, port)
	if d.Allowed {
		return r2, true
	}
	if e.rt.logger.Enabled(r.Context(), slog.LevelDebug) {
		e.rt.logger.Debug("request denied", "status", d.Status, "policy", d.Policy, "reason", d.Reason, "host", r.Host, "path", r.URL.Path)
	}
	body := DeniedBody
	if d.Status == http.StatusUnauthorized {
		body = d.Reason
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm(r)+`", error="invalid_token"`)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(d.Status)
	_, _ = w.Write([]byte(body))
	return nil, false
}

// realm is what Envoy's jwt_authn puts in WWW-Authenticate: the request URL without query.
func realm(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

// Decide evaluates r without writing a reply.
func (e *Engine) Decide(r *http.Request, port uint32) (Decision, *http.Request) {
	c := &reqCtx{r: r, port: port, hops: e.rt.opts.TrustedHops}
	if e.jwt != nil {
		v, r2, msg := e.jwt.authenticate(r)
		if msg != "" {
			return Decision{Status: http.StatusUnauthorized, Reason: msg}, nil
		}
		c.jwt, c.r, r = v, r2, r2
	}
	for _, p := range e.audit {
		if p.matches(c) {
			p.obs.Decision(p.name, p.action, "audit")
		}
	}
	if p := firstDeny(e.custom, c); p != nil {
		return Decision{Status: http.StatusForbidden, Policy: p.name, Reason: "CUSTOM policy (ext_authz not implemented, fails closed)"}, nil
	}
	if p := firstDeny(e.deny, c); p != nil {
		return Decision{Status: http.StatusForbidden, Policy: p.name, Reason: "DENY policy matched"}, nil
	}
	for _, p := range e.allow {
		if p.matches(c) {
			if p.dryRun {
				p.obs.Decision(p.name, p.action, "dry_run_allow")
				continue
			}
			p.obs.Decision(p.name, p.action, "allow")
			return Decision{Allowed: true, Policy: p.name}, r
		}
		if p.dryRun {
			p.obs.Decision(p.name, p.action, "dry_run_deny")
		}
	}
	if e.enforceAllow {
		e.rt.obs.Decision("", "ALLOW", "deny")
		return Decision{Status: http.StatusForbidden, Reason: "no ALLOW policy matched"}, nil
	}
	return Decision{Allowed: true}, r
}

// firstDeny returns the first enforced policy of ps (DENY or CUSTOM) matching c, counting
// dry-run matches on the way.
func firstDeny(ps []*policy, c *reqCtx) *policy {
	for _, p := range ps {
		if !p.matches(c) {
			continue
		}
		if p.dryRun {
			p.obs.Decision(p.name, p.action, "dry_run_deny")
			continue
		}
		p.obs.Decision(p.name, p.action, "deny")
		return p
	}
	return nil
}

// Security returns what the engine was compiled from (for config_dump).
func (e *Engine) Security() *snapshot.Security {
	if e == nil {
		return nil
	}
	return e.sec
}

func (c *reqCtx) peerIP() netip.Addr {
	if !c.extra.peerDone {
		c.extra.peerDone = true
		c.extra.peer = addrOf(c.r.RemoteAddr)
	}
	return c.extra.peer
}

// remoteIP is Envoy's remote address with xff_num_trusted_hops = hops (Istio's
// numTrustedProxies): with hops > 0 the hops-th address from the right of
// X-Forwarded-For, else (or when the header is shorter) the peer address.
func (c *reqCtx) remoteIP() netip.Addr {
	if c.extra.remoteDone {
		return c.extra.remote
	}
	c.extra.remoteDone = true
	c.extra.remote = c.peerIP()
	if c.hops <= 0 {
		return c.extra.remote
	}
	var xff []string
	for _, h := range c.r.Header.Values("X-Forwarded-For") {
		for _, p := range strings.Split(h, ",") {
			xff = append(xff, strings.TrimSpace(p))
		}
	}
	if len(xff) >= c.hops {
		if a, err := netip.ParseAddr(xff[len(xff)-c.hops]); err == nil {
			c.extra.remote = a.Unmap()
		}
	}
	return c.extra.remote
}

func (c *reqCtx) localIP() netip.Addr {
	if !c.extra.locDone {
		c.extra.locDone = true
		if a, ok := c.r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			c.extra.local = addrOf(a.String())
		}
	}
	return c.extra.local
}

// peerPrincipal is Envoy's authenticated principal_name of the verified client
// certificate: its first URI SAN, else its first DNS SAN, else its subject.
func (c *reqCtx) peerPrincipal() (string, bool) {
	if c.extra.principalDone {
		return c.extra.principal, c.extra.principalOK
	}
	c.extra.principalDone = true
	if c.r.TLS == nil || len(c.r.TLS.PeerCertificates) == 0 {
		return "", false
	}
	crt := c.r.TLS.PeerCertificates[0]
	switch {
	case len(crt.URIs) > 0:
		c.extra.principal = crt.URIs[0].String()
	case len(crt.DNSNames) > 0:
		c.extra.principal = crt.DNSNames[0]
	default:
		c.extra.principal = crt.Subject.String()
	}
	c.extra.principalOK = true
	return c.extra.principal, true
}

func addrOf(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func httpCanonical(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }
