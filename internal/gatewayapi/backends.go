package gatewayapi

import (
	"fmt"

	networking "istio.io/api/networking/v1alpha3"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// backend resolves a backendRef of route r to an Istio destination. A non-empty reason
// (a RouteConditionReason) says why it cannot be used.
func (t *translator) backend(r *route, ref gwv1.BackendObjectReference) (d *networking.Destination, reason, msg string) {
	grp, kind, ns := refParts(ref.Group, ref.Kind, ref.Namespace, "", "Service", r.meta.Namespace)
	key := ns + "/" + string(ref.Name)
	if grp != "" || kind != "Service" {
		return nil, string(gwv1.RouteReasonInvalidKind), fmt.Sprintf("backend kind %s/%s is not supported (core Service)", grp, kind)
	}
	if !t.granted(r.kind, r.meta.Namespace, "", "Service", ns, string(ref.Name)) {
		return nil, string(gwv1.RouteReasonRefNotPermitted), fmt.Sprintf("backend Service %s in another namespace is not allowed by any ReferenceGrant in %s", key, ns)
	}
	svc := t.services[key]
	if svc == nil {
		return nil, string(gwv1.RouteReasonBackendNotFound), fmt.Sprintf("Service %s not found", key)
	}
	if ref.Port == nil {
		return nil, string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("backend Service %s: port is required", key)
	}
	found := false
	for _, p := range svc.Spec.Ports {
		if p.Port == int32(*ref.Port) {
			found = true
		}
	}
	if !found {
		return nil, string(gwv1.RouteReasonBackendNotFound), fmt.Sprintf("Service %s has no port %d", key, *ref.Port)
	}
	if fail := t.backendTLS(r, svc, int32(*ref.Port)); fail != "" { // backendtls.go
		return failDestination(), "", fail
	}
	return &networking.Destination{
		Host: string(ref.Name) + "." + ns + ".svc.cluster.local",
		Port: &networking.PortSelector{Number: uint32(*ref.Port)},
	}, "", ""
}

// backendIn is one backendRef of a rule, whatever the route kind.
type backendIn struct {
	ref     gwv1.BackendObjectReference
	weight  *int32
	filters []gwv1.HTTPRouteFilter
}

// forward resolves a rule's backendRefs into the action's destinations. An invalid
// reference keeps its weight but answers 500 (resources.FailBackendHost): the spec's
// answer for its share of the requests, while the valid backends serve the rest. A rule
// whose backends are all invalid, that has none, or whose weights are all 0 answers 500
// as a whole, unless it redirects. http2: the backends are reached over HTTP/2
// (GRPCRoute).
func (t *translator) forward(r *route, a *action, field string, in []backendIn, http2 bool) {
	var ws []weighted
	failed, firstFail := 0, ""
	for k, br := range in {
		bf := fmt.Sprintf("%s.backendRefs[%d]", field, k)
		w := weighted{weight: 1}
		if br.weight != nil {
			w.weight = *br.weight
		}
		d, reason, msg := t.backend(r, br.ref)
		if reason != "" {
			r.unresolved(reason, msg)
			r.diag(t, diag.Error, bf, "%s; its share of the rule's requests (weight %d) answers 500", msg, w.weight)
			d = failDestination()
		}
		if d.Host == resources.FailBackendHost {
			if reason == "" { // a BackendTLSPolicy that cannot be honoured
				r.diag(t, diag.Error, bf, "%s; its share of the rule's requests (weight %d) answers 500", msg, w.weight)
			}
			if failed++; firstFail == "" {
				firstFail = msg
				if msg == "" {
					firstFail = fmt.Sprintf("backendRefs[%d] cannot be used", k)
				}
			}
			w.dest = d
			ws = append(ws, w)
			continue
		}
		if http2 {
			t.http2[fmt.Sprintf("%s:%d", d.Host, d.Port.Number)] = true
		}
		w.dest = d
		for j := range br.filters {
			f := &br.filters[j]
			switch f.Type {
			case gwv1.HTTPRouteFilterRequestHeaderModifier, gwv1.HTTPRouteFilterResponseHeaderModifier:
				if w.headers == nil {
					w.headers = &networking.Headers{}
				}
				if f.RequestHeaderModifier != nil {
					w.headers.Request = headerOps(f.RequestHeaderModifier)
				}
				if f.ResponseHeaderModifier != nil {
					w.headers.Response = headerOps(f.ResponseHeaderModifier)
				}
			default:
				a.fail = fmt.Sprintf("backendRef filter %s is not supported", f.Type)
				r.diag(t, diag.Error, fmt.Sprintf("%s.filters[%d].type", bf, j), "%s; the rule answers 500", a.fail)
			}
		}
		ws = append(ws, w)
	}
	if a.fail != "" || a.redir != nil {
		return
	}
	switch dests := normalize(ws); {
	case failed > 0 && failed == len(in):
		a.fail = firstFail
	case len(in) == 0:
		a.fail = "the rule has no backendRefs"
	case dests == nil:
		a.fail = "every backendRef has weight 0"
	default:
		a.base.Route = dests
	}
}

// weighted is a resolved backend with its Gateway API weight.
type weighted struct {
	dest    *networking.Destination
	weight  int32
	headers *networking.Headers
}

// normalize turns relative weights into Istio's percentages summing to 100 (largest
// remainder; exact when the weights divide 100). Zero-weight backends are dropped.
func normalize(ws []weighted) []*networking.HTTPRouteDestination {
	var total int64
	for _, w := range ws {
		total += int64(w.weight)
	}
	if total == 0 {
		return nil
	}
	out := make([]*networking.HTTPRouteDestination, 0, len(ws))
	type rem struct {
		i int
		r int64
	}
	var rems []rem
	sum := int32(0)
	for _, w := range ws {
		if w.weight == 0 {
			continue
		}
		p := int64(w.weight) * 100 / total
		rems = append(rems, rem{len(out), int64(w.weight) * 100 % total})
		out = append(out, &networking.HTTPRouteDestination{Destination: w.dest, Weight: int32(p), Headers: w.headers})
		sum += int32(p)
	}
	for sum < 100 {
		best := -1
		for k, r := range rems {
			if best < 0 || r.r > rems[best].r {
				best = k
			}
		}
		out[rems[best].i].Weight++
		rems[best].r = -1
		sum++
	}
	if len(out) == 1 {
		out[0].Weight = 0
	}
	return out
}

// failDestination is a backendRef that cannot be used: its share of requests answers 500.
func failDestination() *networking.Destination {
	return &networking.Destination{Host: resources.FailBackendHost}
}
