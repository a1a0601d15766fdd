package authz

import (
	"fmt"
	"strings"

	security "istio.io/api/security/v1beta1"

	"github.com/portcullis/portcullis/internal/authz/engine"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Options describe the gateway workload the policies are selected for.
type Options struct {
	Namespace     string            // the gateway's namespace
	Labels        map[string]string // the gateway workload's labels
	RootNamespace string            // Istio's rootNamespace (default "istio-system")
}

// DefaultRootNamespace is Istio's default meshConfig.rootNamespace.
const DefaultRootNamespace = "istio-system"

const (
	kindAP = "AuthorizationPolicy"
	kindRA = "RequestAuthentication"
)

// translator collects the diagnostics of one Translate call.
type translator struct {
	opts  Options
	diags []diag.Diagnostic
}

func (t *translator) add(sev diag.Severity, kind string, m *resources.Meta, field, format string, args ...any) {
	t.diags = append(t.diags, m.Diagnostic(sev, kind, field, fmt.Sprintf(format, args...)))
}

// Translate selects and checks the security policies of b that apply to the gateway.
// It returns nil when none applies.
func Translate(b *resources.Bundle, opts Options) (*snapshot.Security, []diag.Diagnostic) {
	if opts.RootNamespace == "" {
		opts.RootNamespace = DefaultRootNamespace
	}
	t := &translator{opts: opts}
	sec := &snapshot.Security{}
	for i := range b.AuthorizationPolicies {
		ap := &b.AuthorizationPolicies[i]
		if ap.Unreadable != "" {
			if p, ok := t.unreadablePolicy(ap); ok {
				sec.Policies = append(sec.Policies, p)
			}
			continue
		}
		if !t.selects(kindAP, &ap.Meta, ap.Spec.GetSelector().GetMatchLabels(), len(ap.Spec.GetTargetRefs()) > 0 || ap.Spec.GetTargetRef() != nil) {
			continue
		}
		sec.Policies = append(sec.Policies, t.policy(ap))
	}
	for i := range b.RequestAuthentications {
		ra := &b.RequestAuthentications[i]
		if ra.Unreadable != "" {
			if p, ok := t.unreadableRA(ra); ok {
				sec.JWT = append(sec.JWT, p)
			}
			continue
		}
		if !t.selects(kindRA, &ra.Meta, ra.Spec.GetSelector().GetMatchLabels(), len(ra.Spec.GetTargetRefs()) > 0 || ra.Spec.GetTargetRef() != nil) {
			continue
		}
		sec.JWT = append(sec.JWT, t.jwtRules(ra)...)
	}
	if sec.Empty() {
		return nil, t.diags
	}
	return sec, t.diags
}

// selects reports whether a policy applies to this gateway, as Istio selects workloads: a
// policy in the root namespace applies to every namespace, any other only to its own; no
// selector selects every workload in scope, a selector those whose labels include it.
// targetRef(s) attach a policy to a Kubernetes Gateway API Gateway (or a Service), never to
// an Istio Gateway's workload, so such a policy does not apply here (as in Istio).
func (t *translator) selects(kind string, m *resources.Meta, sel map[string]string, targeted bool) bool {
	if !t.inScope(m) {
		return false
	}
	if targeted {
		if len(sel) > 0 {
			// Istio's validation rejects this; fail closed rather than guess.
			t.add(diag.Error, kind, m, "spec.targetRefs", "selector and targetRef(s) are mutually exclusive (Istio rejects this policy); applied as written with its selector ignored is not possible, so it is not applied")
			return false
		}
		t.add(diag.Warning, kind, m, "spec.targetRefs", "targetRefs attach a policy to a Kubernetes Gateway API Gateway or a Service, not to an Istio Gateway workload such as this one; not applied (as in Istio)")
		return false
	}
	for k, v := range sel {
		if got, ok := t.opts.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (t *translator) policy(ap *resources.AuthorizationPolicy) snapshot.AuthzPolicy {
	s := ap.Spec
	p := snapshot.AuthzPolicy{
		Name:   ap.Namespace + "/" + ap.Name,
		Action: s.GetAction().String(),
		DryRun: ap.Annotations["istio.io/dry-run"] == "true",
		Rules:  make([]snapshot.AuthzRule, 0, len(s.GetRules())),
	}
	if s.GetAction() == security.AuthorizationPolicy_CUSTOM {
		p.Provider = s.GetProvider().GetName()
		t.add(diag.Error, kindAP, &ap.Meta, "spec.action",
			"CUSTOM (ext_authz provider %q) is not implemented by portcullis; fails closed: the requests its rules match are denied (403)", p.Provider)
	}
	for i, r := range s.GetRules() {
		field := fmt.Sprintf("spec.rules[%d]", i)
		rule, errs := t.rule(r, ap.Namespace, field)
		if len(errs) > 0 {
			for _, e := range errs {
				t.add(diag.Error, kindAP, &ap.Meta, e.field, "%s; %s", e.msg, failClosed(s.GetAction()))
			}
			rule = snapshot.AuthzRule{Invalid: errs[0].field + ": " + errs[0].msg}
		}
		p.Rules = append(p.Rules, rule)
	}
	return p
}

// failClosed says what an invalid rule does under action a.
func failClosed(a security.AuthorizationPolicy_Action) string {
	switch a {
	case security.AuthorizationPolicy_ALLOW:
		return "the rule fails closed: it allows nothing"
	case security.AuthorizationPolicy_AUDIT:
		return "the rule fails closed: it is recorded as matching every request"
	}
	return "the rule fails closed: it matches (denies) every request"
}

type fieldErr struct{ field, msg string }

// ruleBuilder collects the predicates and errors of one rule.
type ruleBuilder struct {
	ns   string
	errs []fieldErr
}

func (t *translator) rule(r *security.Rule, ns, field string) (snapshot.AuthzRule, []fieldErr) {
	rb := &ruleBuilder{ns: ns}
	var out snapshot.AuthzRule
	for i, f := range r.GetFrom() {
		s := f.GetSource()
		out.From = append(out.From, rb.entry(fmt.Sprintf("%s.from[%d].source", field, i), "source", s != nil, []fieldValues{
			{"principals", "source.principal", s.GetPrincipals(), false},
			{"notPrincipals", "source.principal", s.GetNotPrincipals(), true},
			{"requestPrincipals", "request.auth.principal", s.GetRequestPrincipals(), false},
			{"notRequestPrincipals", "request.auth.principal", s.GetNotRequestPrincipals(), true},
			{"namespaces", "source.namespace", s.GetNamespaces(), false},
			{"notNamespaces", "source.namespace", s.GetNotNamespaces(), true},
			{"serviceAccounts", "source.serviceAccount", qualifySA(ns, s.GetServiceAccounts()), false},
			{"notServiceAccounts", "source.serviceAccount", qualifySA(ns, s.GetNotServiceAccounts()), true},
			{"trustDomains", "source.trustDomain", s.GetTrustDomains(), false},
			{"notTrustDomains", "source.trustDomain", s.GetNotTrustDomains(), true},
			{"ipBlocks", "source.ip", s.GetIpBlocks(), false},
			{"notIpBlocks", "source.ip", s.GetNotIpBlocks(), true},
			{"remoteIpBlocks", "remote.ip", s.GetRemoteIpBlocks(), false},
			{"notRemoteIpBlocks", "remote.ip", s.GetNotRemoteIpBlocks(), true},
		}))
	}
	for i, to := range r.GetTo() {
		o := to.GetOperation()
		out.To = append(out.To, rb.entry(fmt.Sprintf("%s.to[%d].operation", field, i), "operation", o != nil, []fieldValues{
			{"hosts", "request.host", o.GetHosts(), false},
			{"notHosts", "request.host", o.GetNotHosts(), true},
			{"ports", "destination.port", o.GetPorts(), false},
			{"notPorts", "destination.port", o.GetNotPorts(), true},
			{"methods", "request.method", o.GetMethods(), false},
			{"notMethods", "request.method", o.GetNotMethods(), true},
			{"paths", "request.path", o.GetPaths(), false},
			{"notPaths", "request.path", o.GetNotPaths(), true},
		}))
	}
	for i, c := range r.GetWhen() {
		ff := fmt.Sprintf("%s.when[%d]", field, i)
		key := c.GetKey()
		if err := engine.CheckKey(key); err != "" {
			rb.errs = append(rb.errs, fieldErr{ff + ".key", err})
			continue
		}
		if len(c.GetValues()) == 0 && len(c.GetNotValues()) == 0 {
			rb.errs = append(rb.errs, fieldErr{ff, "condition needs values or notValues"})
			continue
		}
		out.When = rb.pred(out.When, ff+".values", key, c.GetValues(), false)
		out.When = rb.pred(out.When, ff+".notValues", key, c.GetNotValues(), true)
	}
	return out, rb.errs
}

// fieldValues is one field of a source or operation and the attribute it matches.
type fieldValues struct {
	name, key string
	vals      []string
	not       bool
}

// entry builds the AND-list of one from[]/to[] entry; what names "source" or "operation".
func (rb *ruleBuilder) entry(field, what string, present bool, fs []fieldValues) []snapshot.Predicate {
	if !present {
		rb.errs = append(rb.errs, fieldErr{field, "entry without " + what})
		return nil
	}
	var ps []snapshot.Predicate
	for _, f := range fs {
		ps = rb.pred(ps, field+"."+f.name, f.key, f.vals, f.not)
	}
	if len(ps) == 0 {
		rb.errs = append(rb.errs, fieldErr{field, what + " has no field set (Istio rejects an empty " + what + ")"})
	}
	return ps
}

func qualifySA(ns string, vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !strings.Contains(v, "/") {
			v = ns + "/" + v
		}
		out = append(out, v)
	}
	return out
}

// pred checks vals for key and appends the predicate (nothing when vals is empty).
func (rb *ruleBuilder) pred(ps []snapshot.Predicate, field, key string, vals []string, not bool) []snapshot.Predicate {
	if len(vals) == 0 {
		return ps
	}
	for i, v := range vals {
		if msg := engine.CheckValue(key, v); msg != "" {
			rb.errs = append(rb.errs, fieldErr{fmt.Sprintf("%s[%d]", field, i), msg})
		}
	}
	return append(ps, snapshot.Predicate{Key: key, Values: append([]string(nil), vals...), Not: not})
}

func (t *translator) jwtRules(ra *resources.RequestAuthentication) []snapshot.JWTProvider {
	var out []snapshot.JWTProvider
	for i, r := range ra.Spec.GetJwtRules() {
		field := fmt.Sprintf("spec.jwtRules[%d]", i)
		p := snapshot.JWTProvider{
			Name:                  fmt.Sprintf("%s/%s/jwtRules[%d]", ra.Namespace, ra.Name, i),
			Issuer:                r.GetIssuer(),
			Audiences:             r.GetAudiences(),
			JWKSURI:               r.GetJwksUri(),
			JWKS:                  r.GetJwks(),
			FromParams:            r.GetFromParams(),
			FromCookies:           r.GetFromCookies(),
			OutputPayloadToHeader: r.GetOutputPayloadToHeader(),
			ForwardOriginalToken:  r.GetForwardOriginalToken(),
			SpaceDelimitedClaims:  r.GetSpaceDelimitedClaims(),
		}
		for _, h := range r.GetFromHeaders() {
			p.FromHeaders = append(p.FromHeaders, snapshot.JWTHeader{Name: h.GetName(), Prefix: h.GetPrefix()})
		}
		for _, c := range r.GetOutputClaimToHeaders() {
			p.OutputClaimToHeaders = append(p.OutputClaimToHeaders, snapshot.ClaimToHeader{Header: c.GetHeader(), Claim: c.GetClaim()})
		}
		if d := r.GetTimeout(); d != nil {
			p.TimeoutMillis = d.AsDuration().Milliseconds()
		}
		bad := func(f, format string, args ...any) {
			t.add(diag.Error, kindRA, &ra.Meta, field+f, format+"; every token is rejected (401) until this is fixed", args...)
			p.Invalid = true
		}
		if p.Issuer == "" {
			bad(".issuer", "issuer is required")
		}
		if r.GetPresence() != security.JWTRule_OPTIONAL {
			bad(".presence", "presence %s is not supported by portcullis", r.GetPresence())
		}
		switch {
		case p.JWKS != "":
			if err := engine.CheckJWKS([]byte(p.JWKS)); err != nil {
				bad(".jwks", "inline JWKS: %v", err)
			}
		case p.JWKSURI != "":
			switch {
			case strings.HasPrefix(p.JWKSURI, "https://"):
			case strings.HasPrefix(p.JWKSURI, "http://"):
				t.add(diag.Warning, kindRA, &ra.Meta, field+".jwksUri", "keys fetched over plain HTTP can be replaced by anyone on the path (then any token they sign is accepted); use https")
			default:
				bad(".jwksUri", "%q is not an http(s) URL", p.JWKSURI)
			}
		default:
			// Istio resolves the JWKS by OpenID discovery from the issuer; not implemented.
			bad("", "neither jwks nor jwksUri is set (OpenID discovery from the issuer is not implemented)")
		}
		out = append(out, p)
	}
	return out
}

// inScope: a policy in the root namespace or the gateway's namespace may select this
// gateway; when its spec is unreadable its selector is unknown, so it is assumed to.
func (t *translator) inScope(m *resources.Meta) bool {
	return m.Namespace == t.opts.RootNamespace || m.Namespace == t.opts.Namespace
}

// unreadablePolicy: an AuthorizationPolicy whose spec could not be decoded, in scope,
// denies every request (it may have been a DENY policy).
func (t *translator) unreadablePolicy(ap *resources.AuthorizationPolicy) (snapshot.AuthzPolicy, bool) {
	if !t.inScope(&ap.Meta) {
		return snapshot.AuthzPolicy{}, false
	}
	t.add(diag.Error, kindAP, &ap.Meta, "spec", "the policy could not be read (see the error above); it fails closed: every request is denied (403) until it is fixed")
	return snapshot.AuthzPolicy{
		Name: ap.Namespace + "/" + ap.Name, Action: "DENY",
		Rules: []snapshot.AuthzRule{{Invalid: "unreadable spec: " + ap.Unreadable}},
	}, true
}

// unreadableRA: a RequestAuthentication whose spec could not be decoded, in scope, adds
// an invalid provider: a token no other rule verifies is rejected (401), never accepted.
func (t *translator) unreadableRA(ra *resources.RequestAuthentication) (snapshot.JWTProvider, bool) {
	if !t.inScope(&ra.Meta) {
		return snapshot.JWTProvider{}, false
	}
	t.add(diag.Error, kindRA, &ra.Meta, "spec", "the RequestAuthentication could not be read (see the error above); it fails closed: tokens no other rule verifies are rejected (401)")
	return snapshot.JWTProvider{Name: ra.Namespace + "/" + ra.Name + "/unreadable", Invalid: true}, true
}
