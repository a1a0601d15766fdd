package explain

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// WriteText renders d for a terminal: one section per step, in the order the gateway takes
// them. now dates certificate expiries.
func WriteText(w io.Writer, d *Decision, now time.Time) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	rq := &d.Request
	p("%s %s", rq.Method, rq.URL)
	p("  port %d, sni %q, host %q, path %q", rq.Port, rq.SNI, rq.Host, rq.Path)
	if c := rq.ClientCert; c != nil {
		p("  client certificate: %s (serial %s, expires %s)", c.Subject, c.Serial, until(c.NotAfter, now))
	}
	if d.Snapshot != "" {
		p("  snapshot %s", d.Snapshot)
	}
	p("")
	p("outcome: %s", d.Summary)
	if l := d.Listener; l != nil {
		p("\nlistener: %s (port %d, %s)", l.Name, l.Port, l.Protocol)
	}
	if s := d.Server; s != nil {
		p("server:   %s [%s] hosts %s", orDash(s.Name), s.Match, strings.Join(s.Hosts, ", "))
		p("          %s", s.Why)
	}
	if c := d.Credential; c != nil {
		p("credential: %s", c.Name)
		if c.Failure != "" {
			p("          cannot serve: %s", c.Failure)
		} else {
			p("          version %s, serial %s, subject %s, expires %s", orDash(c.Version), c.Serial, c.Subject, until(c.NotAfter, now))
		}
	}
	if a := d.ClientAuth; a != nil {
		p("client auth: mode %s", a.Mode)
		if a.Mode != "SIMPLE" && a.Mode != "" {
			p("          ca %s, subjectAltNames %s, crls %d", orDash(a.CAFingerprint), orDash(strings.Join(a.SANs, ", ")), a.CRLs)
		}
		verdict := "accepted"
		if !a.Accepted {
			verdict = "REFUSED"
		}
		p("          %s: %s", verdict, a.Reason)
	}
	if bd := d.Binding; bd != nil {
		verdict := "ok"
		if !bd.Allowed {
			verdict = "421"
		}
		p("host binding: %s — %s", verdict, bd.Why)
	}
	if a := d.Authz; a != nil {
		switch {
		case !a.Enforced:
			p("authz:    no policy applies")
		case a.Allowed:
			p("authz:    allowed %s", policyName(a.Policy, a.Reason))
		default:
			p("authz:    %d %s", a.Status, policyName(a.Policy, a.Reason))
		}
	}
	if r := d.Routing; r != nil {
		p("routing:  virtual host %s", orDash(r.VirtualHost))
		for _, rule := range r.Routes {
			mark := "  "
			if rule.Selected {
				mark = "=>"
			}
			p("  %s rule %s", mark, rule.Name)
			if len(rule.Clauses) == 0 {
				p("       (no match conditions: matches every request)")
			}
			for i, why := range rule.Clauses {
				if why == "" {
					why = "all conditions hold"
				}
				p("       match[%d]: %s", i, why)
			}
		}
	}
	if a := d.Action; a != nil {
		writeAction(p, a)
	}
	if ds := d.Destination; ds != nil {
		for _, c := range ds.Clusters {
			eps := strings.Join(c.Endpoints, ", ")
			switch {
			case !c.Found:
				eps = "cluster not found"
			case len(c.Endpoints) == 0:
				eps = "NO ENDPOINTS (503)"
			}
			p("destination: %s weight %d → %s", c.Name, c.Weight, eps)
		}
	}
	for _, n := range d.Notes {
		p("note: %s", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeAction(p func(string, ...any), a *Action) {
	p("action:   %s", a.Kind)
	if a.Location != "" {
		p("          redirect %d to %s", a.Redirect.Code, a.Location)
	}
	if a.Direct != nil {
		p("          direct response %d %q", a.Direct.Status, a.Direct.Body)
	}
	if a.UpstreamPath != "" {
		p("          rewrite: upstream path %s", a.UpstreamPath)
	}
	if a.Rewrite != nil && a.Rewrite.Authority != "" {
		p("          rewrite: authority %s", a.Rewrite.Authority)
	}
	for _, l := range headerLines(a.RequestHeaders) {
		p("          request headers: %s", l)
	}
	for _, l := range headerLines(a.ResponseHeaders) {
		p("          response headers: %s", l)
	}
	if a.TimeoutMillis > 0 {
		p("          timeout %s", time.Duration(a.TimeoutMillis)*time.Millisecond)
	}
	if r := a.Retry; r != nil {
		p("          retries %d on %s (per try timeout %s)", r.Retries, r.On, time.Duration(r.PerTryTimeoutMillis)*time.Millisecond)
	}
	for _, m := range a.Mirrors {
		p("          mirror to %s (%d per million)", m.Cluster, m.Fraction)
	}
	if f := a.Fault; f != nil {
		if f.Delay != nil {
			p("          fault: delay %s for %d per million", time.Duration(f.Delay.DelayMillis)*time.Millisecond, f.Delay.Fraction)
		}
		if f.Abort != nil {
			p("          fault: abort http %d grpc %d for %d per million", f.Abort.HTTPStatus, f.Abort.GRPCStatus, f.Abort.Fraction)
		}
	}
	if c := a.CORS; c != nil {
		p("          cors: %d allowed origins, methods %s", len(c.AllowOrigins), orDash(c.AllowMethods))
	}
}

// headerLines lists header operations in the order they apply: remove, set, add.
func headerLines(h *snapshot.HeaderOps) []string {
	if h == nil {
		return nil
	}
	var out []string
	for _, k := range h.Remove {
		out = append(out, "remove "+k)
	}
	for _, k := range sortedKeys(h.Set) {
		out = append(out, fmt.Sprintf("set %s: %s", k, h.Set[k]))
	}
	for _, k := range sortedKeys(h.Add) {
		out = append(out, fmt.Sprintf("add %s: %s", k, h.Add[k]))
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func policyName(policy, reason string) string {
	s := reason
	if policy != "" {
		s = "by policy " + policy
		if reason != "" {
			s += " (" + reason + ")"
		}
	}
	return s
}

// until renders an expiry with the time left.
func until(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	left, what := t.Sub(now), "in"
	if left < 0 {
		left, what = -left, "EXPIRED"
	}
	days, rest := left/(24*time.Hour), (left % (24 * time.Hour)).Round(time.Minute)
	s := fmt.Sprintf("%s (%s %dd%s", t.UTC().Format(time.RFC3339), what, days, rest)
	if what == "EXPIRED" {
		s += " ago"
	}
	return s + ")"
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
