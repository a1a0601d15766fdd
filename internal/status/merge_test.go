package status

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func at(min int) metav1.Time {
	return metav1.NewTime(time.Date(2026, 1, 1, 0, min, 0, 0, time.UTC))
}

func withTime(c metav1.Condition, t metav1.Time) metav1.Condition {
	c.LastTransitionTime = t
	return c
}

func TestMergeConditions(t *testing.T) {
	cur := []metav1.Condition{
		withTime(cond("Accepted", true, "Accepted", "old", 1), at(1)),
		withTime(cond("Programmed", true, "Programmed", "", 1), at(1)),
	}
	want := []metav1.Condition{
		cond("Accepted", true, "Accepted", "new message", 2), // same status: time kept
		cond("Programmed", false, "Invalid", "", 2),          // status changed: now
		cond("ResolvedRefs", true, "ResolvedRefs", "", 2),    // new: now
		withTime(cond("Extra", true, "Extra", "", 2), at(7)), // translator's own time kept
	}
	got := mergeConditions(cur, want, at(5))
	wantOut := []metav1.Condition{
		withTime(want[0], at(1)), withTime(want[1], at(5)), withTime(want[2], at(5)), want[3],
	}
	if d := cmp.Diff(wantOut, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if mergeConditions(cur, nil, at(5)) != nil {
		t.Error("no conditions wanted: want nil")
	}
}

func TestMergeRouteKeepsOtherControllers(t *testing.T) {
	group, kind := defaultGroup, defaultKind
	theirs := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "their-gw"}, ControllerName: other,
		Conditions: []metav1.Condition{withTime(cond("Accepted", true, "Accepted", "", 1), at(1))}}
	ours := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Group: &group, Kind: &kind, Name: "gw"}, ControllerName: DefaultControllerName,
		Conditions: []metav1.Condition{withTime(cond("Accepted", true, "Accepted", "", 1), at(1))}}
	cur := gwv1.RouteStatus{Parents: []gwv1.RouteParentStatus{ours, theirs}}

	// The same parent, given without the defaulted group/kind: nothing changes.
	same := gwv1.RouteStatus{Parents: []gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "gw"},
		ControllerName: DefaultControllerName, Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", "", 1)}}}}
	if next, changed := mergeRoute(cur, &same, DefaultControllerName, at(5)); changed {
		t.Errorf("the same parent changed the status: %+v", next.Parents)
	}
	// A second parent of ours is appended; the first keeps its place and time.
	two := *same.DeepCopy()
	two.Parents = append(two.Parents, gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "gw2"},
		ControllerName: DefaultControllerName, Conditions: []metav1.Condition{cond("Accepted", false, "NoMatchingParent", "", 1)}})
	next, changed := mergeRoute(cur, &two, DefaultControllerName, at(5))
	if !changed || len(next.Parents) != 3 || next.Parents[0].ParentRef.Name != "gw" || next.Parents[1].ControllerName != other ||
		next.Parents[2].ParentRef.Name != "gw2" || !next.Parents[0].Conditions[0].LastTransitionTime.Equal(&metav1.Time{Time: at(1).Time}) ||
		!next.Parents[2].Conditions[0].LastTransitionTime.Equal(&metav1.Time{Time: at(5).Time}) {
		t.Errorf("second parent: changed %v, %+v", changed, next.Parents)
	}

	// An entry of another controller in the update is not ours to write.
	foreign := gwv1.RouteStatus{Parents: []gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "x"}, ControllerName: other}}}
	next, _ = mergeRoute(cur, &foreign, DefaultControllerName, at(5))
	if d := cmp.Diff([]gwv1.RouteParentStatus{theirs}, next.Parents); d != "" {
		t.Errorf("foreign entry in the update (-want +got):\n%s", d)
	}

	// Removal: nil update removes ours only; the list stays a list.
	next, changed = mergeRoute(cur, nil, DefaultControllerName, at(5))
	if !changed || len(next.Parents) != 1 || next.Parents[0].ControllerName != other {
		t.Errorf("removal: changed %v, %+v", changed, next.Parents)
	}
	next, changed = mergeRoute(gwv1.RouteStatus{Parents: []gwv1.RouteParentStatus{ours}}, nil, DefaultControllerName, at(5))
	if !changed || next.Parents == nil || len(next.Parents) != 0 {
		t.Errorf("removal of the only parent: changed %v, %#v (want an empty, non-nil list)", changed, next.Parents)
	}
}

func TestMergeGatewayDefaultsAndListeners(t *testing.T) {
	ip, group := gwv1.IPAddressType, defaultGroup
	cur := gwv1.GatewayStatus{
		Addresses: []gwv1.GatewayStatusAddress{{Type: &ip, Value: "127.0.0.1"}},
		Listeners: []gwv1.ListenerStatus{{Name: "http", SupportedKinds: []gwv1.RouteGroupKind{{Group: &group, Kind: "HTTPRoute"}},
			Conditions: []metav1.Condition{withTime(cond("Programmed", true, "Programmed", "", 1), at(1))}}},
	}
	want := gwv1.GatewayStatus{
		Addresses: []gwv1.GatewayStatusAddress{{Value: "127.0.0.1"}},
		Listeners: []gwv1.ListenerStatus{{Name: "http", SupportedKinds: []gwv1.RouteGroupKind{{Kind: "HTTPRoute"}},
			Conditions: []metav1.Condition{cond("Programmed", true, "Programmed", "", 1)}}},
	}
	if next, changed := mergeGateway(cur, want, at(5)); changed {
		t.Errorf("server-defaulted fields counted as a change: %+v", next)
	}
	want.Listeners[0].AttachedRoutes = 3
	if next, changed := mergeGateway(cur, want, at(5)); !changed || next.Listeners[0].AttachedRoutes != 3 ||
		!next.Listeners[0].Conditions[0].LastTransitionTime.Equal(&metav1.Time{Time: at(1).Time}) {
		t.Errorf("attached routes: changed %v, %+v", changed, next.Listeners)
	}
}

func TestStatusAs(t *testing.T) {
	s := gwv1.GatewayStatus{Addresses: []gwv1.GatewayStatusAddress{{Value: "a"}}}
	for _, v := range []any{s, &s} {
		got, err := statusAs[gwv1.GatewayStatus](v)
		if err != nil || got.Addresses[0].Value != "a" {
			t.Errorf("%T: %+v, %v", v, got, err)
		}
	}
	for _, v := range []any{nil, (*gwv1.GatewayStatus)(nil), &gwv1.HTTPRouteStatus{}} {
		if _, err := statusAs[gwv1.GatewayStatus](v); err == nil {
			t.Errorf("%T accepted as a GatewayStatus", v)
		}
	}
	w := NewWriter(nil, WriterOptions{})
	if _, err := w.opsFor(Update{Group: "networking.istio.io", Kind: "Gateway"}); err == nil {
		t.Error("an Istio Gateway accepted")
	}
	if _, err := w.opsFor(Update{Group: gwv1.GroupName, Kind: "ReferenceGrant"}); err == nil {
		t.Error("ReferenceGrant (no status) accepted")
	}
}
