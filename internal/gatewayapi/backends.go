package gatewayapi

import (
	"fmt"

	networking "istio.io/api/networking/v1alpha3"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// backend resolves a backendRef of route r to an Istio destination. A non-empty reason
// (a RouteConditionReason) says why it cannot be used.
func (t *translator) backend(r *route, ref gwv1.BackendObjectReference) (d *networking.Destination, reason, msg string) {
	grp, kind := "", "Service"
	if ref.Group != nil {
		grp = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	ns := r.meta.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
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
	if t.tlsRequired[key] {
		return nil, string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("Service %s is the target of a BackendTLSPolicy, which is not supported yet", key)
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
	return &networking.Destination{
		Host: string(ref.Name) + "." + ns + ".svc.cluster.local",
		Port: &networking.PortSelector{Number: uint32(*ref.Port)},
	}, "", ""
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
