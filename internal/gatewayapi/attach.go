package gatewayapi

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/status"
)

// route is one route object of any kind, with its per-parent results.
type route struct {
	kind      string
	meta      *metav1.ObjectMeta
	src       resources.Source
	common    *gwv1.CommonRouteSpec
	hostnames []gwv1.Hostname
	parents   []*parent
	// ResolvedRefs of the route (the same for every parent): ok unless reason set.
	refsReason, refsMsg string
	// acceptReason: the route as a whole is refused (an unsupported value).
	acceptReason, acceptMsg string
}

// parent is one parentRef that names a Gateway of ours.
type parent struct {
	ref                     gwv1.ParentReference
	acceptReason, acceptMsg string
	attached                []attachment
}

// attachment: the route attached to a listener for these effective hostnames.
type attachment struct {
	l     *listener
	hosts []string // "*" when neither the listener nor the route names one
}

// attachments of the route across its parents.
func (r *route) attachments() []attachment {
	var out []attachment
	for _, p := range r.parents {
		out = append(out, p.attached...)
	}
	return out
}

func (r *route) diag(t *translator, sev diag.Severity, field, format string, args ...any) {
	t.diag(sev, r.kind, r.meta, r.src, field, format, args...)
}

func (r *route) unresolved(reason, msg string) {
	if r.refsReason == "" {
		r.refsReason, r.refsMsg = reason, msg
	}
}

// attach resolves the route's parentRefs to listeners of our Gateways.
func (t *translator) attach(r *route) {
	for k, ref := range r.common.ParentRefs {
		grp, kind, ns := refParts(ref.Group, ref.Kind, ref.Namespace, Group, "Gateway", r.meta.Namespace)
		if grp != Group || kind != "Gateway" {
			continue // a mesh or another implementation's parent: not ours
		}
		gw := t.gwByKey[ns+"/"+string(ref.Name)]
		if gw == nil {
			continue
		}
		p := &parent{ref: ref}
		r.parents = append(r.parents, p)
		field := fmt.Sprintf("spec.parentRefs[%d]", k)
		t.attachParent(r, p, gw)
		if p.acceptReason != "" {
			r.diag(t, diag.Warning, field, "not attached to Gateway %s: %s (%s)", objKey(&gw.obj.ObjectMeta), p.acceptMsg, p.acceptReason)
		}
	}
}

func (t *translator) attachParent(r *route, p *parent, gw *gateway) {
	if !gw.accepted {
		p.acceptReason, p.acceptMsg = string(gwv1.RouteReasonNoMatchingParent), "the Gateway is not accepted"
		return
	}
	var candidates []*listener
	for _, l := range gw.listeners {
		if p.ref.SectionName != nil && *p.ref.SectionName != l.spec.Name {
			continue
		}
		if p.ref.Port != nil && *p.ref.Port != l.spec.Port {
			continue
		}
		candidates = append(candidates, l)
	}
	if len(candidates) == 0 {
		p.acceptReason, p.acceptMsg = string(gwv1.RouteReasonNoMatchingParent), "no listener matches the parentRef's sectionName and port"
		return
	}
	notAllowed, noHost := false, false
	for _, l := range candidates {
		if !l.usable() {
			continue
		}
		if !t.allowed(l, r) {
			notAllowed = true
			continue
		}
		hosts := intersectHosts(l.host, r.hostnames)
		if len(hosts) == 0 {
			noHost = true
			continue
		}
		p.attached = append(p.attached, attachment{l: l, hosts: hosts})
		l.attached++
	}
	switch {
	case len(p.attached) > 0:
	case notAllowed:
		p.acceptReason, p.acceptMsg = string(gwv1.RouteReasonNotAllowedByListeners), "the listeners do not allow this route's kind or namespace"
	case noHost:
		p.acceptReason, p.acceptMsg = string(gwv1.RouteReasonNoMatchingListenerHostname), "no hostname of the route matches a listener's hostname"
	default:
		p.acceptReason, p.acceptMsg = string(gwv1.RouteReasonNoMatchingParent), "no matching listener is served"
	}
}

// allowed applies the listener's allowedRoutes to the route.
func (t *translator) allowed(l *listener, r *route) bool {
	kindOK := false
	for _, k := range l.kinds {
		if string(k.Kind) == r.kind {
			kindOK = true
		}
	}
	if !kindOK {
		return false
	}
	from := gwv1.NamespacesFromSame
	if ar := l.spec.AllowedRoutes; ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil {
		from = *ar.Namespaces.From
	}
	switch from {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSame:
		return r.meta.Namespace == l.gw.obj.Namespace
	case gwv1.NamespacesFromSelector:
		return l.nsSelector != nil && l.nsSelector.Matches(t.nsLabels(r.meta.Namespace))
	}
	return false // None, or an invalid selector
}

// intersectHosts is the Gateway API hostname intersection of a listener hostname ("" for
// none) and a route's hostnames (none: the listener's).
func intersectHosts(lh string, rhs []gwv1.Hostname) []string {
	if len(rhs) == 0 {
		if lh == "" {
			return []string{"*"}
		}
		return []string{lh}
	}
	var out []string
	seen := map[string]bool{}
	for _, rh := range rhs {
		h, ok := intersectHost(lh, lower(rh))
		if ok && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

func intersectHost(l, r string) (string, bool) {
	switch {
	case l == "" || l == r:
		return r, true
	case strings.HasPrefix(r, "*.") && strings.HasSuffix(l, r[1:]):
		return l, true
	case strings.HasPrefix(l, "*.") && strings.HasSuffix(r, l[1:]):
		return r, true
	}
	return "", false
}

// update is the route's status for our parents; ok false when no parent is ours.
func (r *route) update(controller string) (status.Update, bool) {
	if len(r.parents) == 0 {
		return status.Update{}, false
	}
	gen := r.meta.Generation
	var ps []gwv1.RouteParentStatus
	for _, p := range r.parents {
		acc := cond("Accepted", p.acceptReason == "" && r.acceptReason == "", string(gwv1.RouteReasonAccepted), "", gen)
		switch {
		case r.acceptReason != "":
			acc.Reason, acc.Message = r.acceptReason, r.acceptMsg
		case p.acceptReason != "":
			acc.Reason, acc.Message = p.acceptReason, p.acceptMsg
		}
		refs := cond("ResolvedRefs", r.refsReason == "", string(gwv1.RouteReasonResolvedRefs), "", gen)
		if r.refsReason != "" {
			refs.Reason, refs.Message = r.refsReason, r.refsMsg
		}
		ps = append(ps, gwv1.RouteParentStatus{
			ParentRef: p.ref, ControllerName: gwv1.GatewayController(controller),
			Conditions: []metav1.Condition{acc, refs},
		})
	}
	rs := gwv1.RouteStatus{Parents: ps}
	var st any
	switch r.kind {
	case "HTTPRoute":
		st = &gwv1.HTTPRouteStatus{RouteStatus: rs}
	case "GRPCRoute":
		st = &gwv1.GRPCRouteStatus{RouteStatus: rs}
	case "TLSRoute":
		st = &gwv1.TLSRouteStatus{RouteStatus: rs}
	default:
		st = &gwv1.TCPRouteStatus{RouteStatus: rs}
	}
	return status.Update{Group: Group, Kind: r.kind, Namespace: r.meta.Namespace, Name: r.meta.Name, Generation: gen, UID: string(r.meta.UID), Status: st}, true
}
