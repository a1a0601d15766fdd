package status

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The merge functions compute the status an object should have from the status it has
// (cur, as read from the API server) and the one the translator computed (want). They
// return the new status and whether it differs from cur; a status that differs only in
// lastTransitionTime is never "changed", because a condition whose status did not change
// keeps its lastTransitionTime (metav1.Condition: "the last time the condition
// transitioned from one status to another").
//
// Values the CRDs default on the server (parentRef group/kind, address type,
// supportedKinds group) are filled in want first, so that what we would write compares
// equal to what the server stored the last time.

const (
	defaultGroup = gwv1.Group(gwv1.GroupName)
	defaultKind  = gwv1.Kind("Gateway")
)

// statusAs accepts the typed status as a value or a pointer.
func statusAs[S any](v any) (S, error) {
	switch s := v.(type) {
	case S:
		return s, nil
	case *S:
		if s != nil {
			return *s, nil
		}
	}
	var zero S
	return zero, fmt.Errorf("status is %T, want %T", v, &zero)
}

// mergeConditions returns want with lastTransitionTime carried over from cur for every
// condition whose type and status are unchanged, and set to now for the others when the
// translator left it zero.
func mergeConditions(cur, want []metav1.Condition, now metav1.Time) []metav1.Condition {
	if want == nil {
		return nil
	}
	out := make([]metav1.Condition, len(want))
	for i, c := range want {
		if old := findCondition(cur, c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		} else if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
		}
		out[i] = c
	}
	return out
}

func findCondition(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

func changed(cur, next any) bool { return !equality.Semantic.DeepEqual(cur, next) }

func mergeGatewayClass(cur gwv1.GatewayClassStatus, want gwv1.GatewayClassStatus, now metav1.Time) (gwv1.GatewayClassStatus, bool) {
	next := *want.DeepCopy()
	next.Conditions = mergeConditions(cur.Conditions, want.Conditions, now)
	return next, changed(cur, next)
}

func defaultKinds(ks []gwv1.RouteGroupKind) {
	for i := range ks {
		if ks[i].Group == nil {
			g := defaultGroup
			ks[i].Group = &g
		}
	}
}

func mergeGateway(cur gwv1.GatewayStatus, want gwv1.GatewayStatus, now metav1.Time) (gwv1.GatewayStatus, bool) {
	next := *want.DeepCopy()
	for i := range next.Addresses {
		if next.Addresses[i].Type == nil {
			t := gwv1.IPAddressType
			next.Addresses[i].Type = &t
		}
	}
	next.Conditions = mergeConditions(cur.Conditions, want.Conditions, now)
	for i := range next.Listeners {
		l := &next.Listeners[i]
		defaultKinds(l.SupportedKinds)
		var old []metav1.Condition
		if j := slices.IndexFunc(cur.Listeners, func(c gwv1.ListenerStatus) bool { return c.Name == l.Name }); j >= 0 {
			old = cur.Listeners[j].Conditions
		}
		l.Conditions = mergeConditions(old, l.Conditions, now)
	}
	return next, changed(cur, next)
}

func defaultParentRef(r gwv1.ParentReference) gwv1.ParentReference {
	if r.Group == nil {
		g := defaultGroup
		r.Group = &g
	}
	if r.Kind == nil {
		k := defaultKind
		r.Kind = &k
	}
	return r
}

// entry is one route parent or policy ancestor status: the key (reference and
// controller) and its conditions.
type entry[E any] struct {
	controller func(E) gwv1.GatewayController
	ref        func(E) gwv1.ParentReference
	setRef     func(*E, gwv1.ParentReference)
	conditions func(*E) *[]metav1.Condition
}

// mergeEntries keeps every entry of cur that another controller wrote, and replaces ours
// with those of want (entries of want that are not ours are ignored: the translator only
// speaks for our controller). An entry of ours that stays keeps its place in the list and
// its conditions' lastTransitionTime where the status did not change; new ones are
// appended; ours not in want are dropped.
func mergeEntries[E any](e entry[E], cur, want []E, ours gwv1.GatewayController, now metav1.Time) []E {
	var mine []E
	for _, w := range want {
		if e.controller(w) == ours {
			e.setRef(&w, defaultParentRef(e.ref(w)))
			mine = append(mine, w)
		}
	}
	used := make([]bool, len(mine))
	next := []E{} // never nil: the list is required, an empty one is written as []
	for i := range cur {
		if e.controller(cur[i]) != ours {
			next = append(next, cur[i])
			continue
		}
		ref := defaultParentRef(e.ref(cur[i]))
		for j := range mine {
			if !used[j] && equality.Semantic.DeepEqual(e.ref(mine[j]), ref) {
				used[j] = true
				w := mine[j]
				*e.conditions(&w) = mergeConditions(*e.conditions(&cur[i]), *e.conditions(&w), now)
				next = append(next, w)
				break
			}
		}
	}
	for j, w := range mine {
		if !used[j] {
			*e.conditions(&w) = mergeConditions(nil, *e.conditions(&w), now)
			next = append(next, w)
		}
	}
	return next
}

func parentEntry() entry[gwv1.RouteParentStatus] {
	return entry[gwv1.RouteParentStatus]{
		controller: func(p gwv1.RouteParentStatus) gwv1.GatewayController { return p.ControllerName },
		ref:        func(p gwv1.RouteParentStatus) gwv1.ParentReference { return p.ParentRef },
		setRef:     func(p *gwv1.RouteParentStatus, r gwv1.ParentReference) { p.ParentRef = r },
		conditions: func(p *gwv1.RouteParentStatus) *[]metav1.Condition { return &p.Conditions },
	}
}

func ancestorEntry() entry[gwv1.PolicyAncestorStatus] {
	return entry[gwv1.PolicyAncestorStatus]{
		controller: func(p gwv1.PolicyAncestorStatus) gwv1.GatewayController { return p.ControllerName },
		ref:        func(p gwv1.PolicyAncestorStatus) gwv1.ParentReference { return p.AncestorRef },
		setRef:     func(p *gwv1.PolicyAncestorStatus, r gwv1.ParentReference) { p.AncestorRef = r },
		conditions: func(p *gwv1.PolicyAncestorStatus) *[]metav1.Condition { return &p.Conditions },
	}
}

// mergeShared merges our entries of want (the route's parents or the policy's ancestors,
// list) into cur; want nil removes all of ours.
func mergeShared[S any, E any](e entry[E], cur S, want *S, list func(*S) *[]E, ours gwv1.GatewayController, now metav1.Time) (S, bool) {
	next := cur
	var w []E
	if want != nil {
		w = *list(want)
	}
	*list(&next) = mergeEntries(e, *list(&cur), w, ours, now)
	return next, changed(cur, next)
}

// mergeRoute merges our parents of want into cur; want nil removes all of ours.
func mergeRoute(cur gwv1.RouteStatus, want *gwv1.RouteStatus, ours gwv1.GatewayController, now metav1.Time) (gwv1.RouteStatus, bool) {
	return mergeShared(parentEntry(), *cur.DeepCopy(), want.DeepCopy(), func(s *gwv1.RouteStatus) *[]gwv1.RouteParentStatus { return &s.Parents }, ours, now)
}

// mergePolicy merges our ancestors of want into cur; want nil removes all of ours.
func mergePolicy(cur gwv1.PolicyStatus, want *gwv1.PolicyStatus, ours gwv1.GatewayController, now metav1.Time) (gwv1.PolicyStatus, bool) {
	return mergeShared(ancestorEntry(), *cur.DeepCopy(), want.DeepCopy(), func(s *gwv1.PolicyStatus) *[]gwv1.PolicyAncestorStatus { return &s.Ancestors }, ours, now)
}

// hasOurs reports whether a route or policy status carries an entry of our controller.
func hasOurs[E any](e entry[E], es []E, ours gwv1.GatewayController) bool {
	return slices.ContainsFunc(es, func(x E) bool { return e.controller(x) == ours })
}
