package status

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/portcullis/portcullis/internal/testkit"
)

// realCluster returns a client config for the test control plane (hack/kube/up.sh) with
// the Gateway API CRDs installed, or skips the test when it is not running.
func realCluster(t *testing.T) *rest.Config {
	t.Helper()
	cfg, kubectl := testkit.RealCluster(t)
	testkit.InstallGatewayAPICRDs(t, kubectl, os.Getenv("KUBECONFIG"))
	return cfg
}

const other = gwv1.GatewayController("example.com/other-controller")

// fixture is a fresh namespace holding Gateway "gw" (class gc) and HTTPRoutes r1, r2
// attached to it; r1's status already carries a parent of another controller.
type fixture struct {
	ns, class string
	gw        gwclient.Interface
	kc        kubernetes.Interface
}

func newFixture(t *testing.T, cfg *rest.Config) *fixture {
	t.Helper()
	ctx := t.Context()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	sfx := hex.EncodeToString(b)
	f := &fixture{ns: "pc-status-" + sfx, class: "pc-status-" + sfx,
		gw: gwclient.NewForConfigOrDie(cfg), kc: kubernetes.NewForConfigOrDie(cfg)}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}, metav1.CreateOptions{}))
	t.Cleanup(func() {
		_ = f.kc.CoreV1().Namespaces().Delete(context.Background(), f.ns, metav1.DeleteOptions{})
		_ = f.gw.GatewayV1().GatewayClasses().Delete(context.Background(), f.class, metav1.DeleteOptions{})
	})
	must(f.gw.GatewayV1().GatewayClasses().Create(ctx, &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: f.class},
		Spec: gwv1.GatewayClassSpec{ControllerName: DefaultControllerName}}, metav1.CreateOptions{}))
	must(f.gw.GatewayV1().Gateways(f.ns).Create(ctx, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gw"},
		Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(f.class),
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}}}, metav1.CreateOptions{}))
	for _, r := range []string{"r1", "r2"} {
		must(f.gw.GatewayV1().HTTPRoutes(f.ns).Create(ctx, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: r},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}}}},
			metav1.CreateOptions{}))
	}
	r1, err := f.gw.GatewayV1().HTTPRoutes(f.ns).Get(ctx, "r1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	theirs := cond("Accepted", true, "Accepted", "theirs", 1)
	theirs.LastTransitionTime = metav1.Now()
	r1.Status.Parents = []gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "elsewhere"}, ControllerName: other,
		Conditions: []metav1.Condition{theirs}}}
	must(f.gw.GatewayV1().HTTPRoutes(f.ns).UpdateStatus(ctx, r1, metav1.UpdateOptions{}))
	return f
}

func cond(typ string, ok bool, reason, msg string, gen int64) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen}
}

// updates is the set a translator would publish: the class and Gateway accepted, the
// routes in routes accepted by gw with the given Accepted status.
func (f *fixture) updates(gwMessage string, routes map[string]bool) []Update {
	us := []Update{
		{Group: gwv1.GroupName, Kind: "GatewayClass", Name: f.class, Generation: 1, Status: &gwv1.GatewayClassStatus{
			Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", "", 1)}}},
		{Group: gwv1.GroupName, Kind: "Gateway", Namespace: f.ns, Name: "gw", Generation: 1, Status: &gwv1.GatewayStatus{
			Addresses:  []gwv1.GatewayStatusAddress{{Value: "127.0.0.1"}},
			Conditions: []metav1.Condition{cond("Accepted", true, "Accepted", gwMessage, 1), cond("Programmed", true, "Programmed", "", 1)},
			Listeners: []gwv1.ListenerStatus{{Name: "http", AttachedRoutes: int32(len(routes)),
				SupportedKinds: []gwv1.RouteGroupKind{{Kind: "HTTPRoute"}},
				Conditions:     []metav1.Condition{cond("Accepted", true, "Accepted", "", 1), cond("Programmed", true, "Programmed", "", 1)}}},
		}},
	}
	for name, ok := range routes {
		reason := "Accepted"
		if !ok {
			reason = "NotAllowedByListeners"
		}
		us = append(us, Update{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: f.ns, Name: name, Generation: 1,
			Status: &gwv1.HTTPRouteStatus{RouteStatus: gwv1.RouteStatus{Parents: []gwv1.RouteParentStatus{{
				ParentRef: gwv1.ParentReference{Name: "gw"}, ControllerName: DefaultControllerName,
				Conditions: []metav1.Condition{cond("Accepted", ok, reason, "", 1), cond("ResolvedRefs", true, "ResolvedRefs", "", 1)},
			}}}}})
	}
	return us
}

func (f *fixture) route(t *testing.T, name string) *gwv1.HTTPRoute {
	t.Helper()
	r, err := f.gw.GatewayV1().HTTPRoutes(f.ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) gateway(t *testing.T) *gwv1.Gateway {
	t.Helper()
	g, err := f.gw.GatewayV1().Gateways(f.ns).Get(t.Context(), "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// versions are the resourceVersions of the fixture's objects.
func (f *fixture) versions(t *testing.T) string {
	t.Helper()
	gc, err := f.gw.GatewayV1().GatewayClasses().Get(t.Context(), f.class, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join([]string{gc.ResourceVersion, f.gateway(t).ResourceVersion,
		f.route(t, "r1").ResourceVersion, f.route(t, "r2").ResourceVersion}, ",")
}

func parentsBy(r *gwv1.HTTPRoute) map[gwv1.GatewayController]gwv1.RouteParentStatus {
	m := map[gwv1.GatewayController]gwv1.RouteParentStatus{}
	for _, p := range r.Status.Parents {
		m[p.ControllerName] = p
	}
	return m
}

// TestWriterOnAPIServer drives the writer's sync against the real API server: it writes
// every kind's status, keeps other controllers' route parents, writes nothing when
// nothing changed, keeps lastTransitionTime unless a condition's status changes, and
// removes our parents from routes no longer attached (also those a previous leader
// wrote).
func TestWriterOnAPIServer(t *testing.T) {
	cfg := realCluster(t)
	f := newFixture(t, cfg)
	ctx := t.Context()
	clock := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	w := NewWriter(f.gw, WriterOptions{Namespaces: []string{f.ns}})
	w.now = func() time.Time { return clock }
	w.written, w.owned = map[string]Update{}, map[string]bool{}

	if !w.sync(ctx, f.updates("first", map[string]bool{"r1": true, "r2": true})) {
		t.Fatal("sync failed")
	}
	if got := w.Writes(); got != 4 {
		t.Errorf("writes %d, want 4 (class, gateway, two routes)", got)
	}
	g := f.gateway(t)
	if c := findCondition(g.Status.Conditions, "Accepted"); c == nil || c.Message != "first" || !c.LastTransitionTime.Time.Equal(clock) {
		t.Errorf("Gateway Accepted = %+v, want message first at %v", c, clock)
	}
	if len(g.Status.Listeners) != 1 || g.Status.Listeners[0].AttachedRoutes != 2 {
		t.Errorf("Gateway listeners %+v", g.Status.Listeners)
	}
	ps := parentsBy(f.route(t, "r1"))
	if len(ps) != 2 || ps[other].Conditions[0].Message != "theirs" || ps[DefaultControllerName].Conditions[0].Reason != "Accepted" {
		t.Errorf("r1 parents %+v, want ours and the other controller's", f.route(t, "r1").Status.Parents)
	}

	// The same set again, from a fresh writer (as after a restart: nothing cached), at a
	// later time: no write at all.
	before := f.versions(t)
	clock = clock.Add(time.Hour)
	w2 := NewWriter(f.gw, WriterOptions{Namespaces: []string{f.ns}})
	w2.now = func() time.Time { return clock }
	w2.written, w2.owned = map[string]Update{}, map[string]bool{}
	if !w2.sync(ctx, f.updates("first", map[string]bool{"r1": true, "r2": true})) {
		t.Fatal("sync failed")
	}
	if got, after := w2.Writes(), f.versions(t); got != 0 || after != before {
		t.Errorf("unchanged statuses: %d writes, resourceVersions %s -> %s", got, before, after)
	}

	// A message change keeps lastTransitionTime; a status change moves it.
	if !w2.sync(ctx, f.updates("second", map[string]bool{"r1": false, "r2": true})) {
		t.Fatal("sync failed")
	}
	if got := w2.Writes(); got != 2 {
		t.Errorf("writes %d, want 2 (gateway, r1)", got)
	}
	g = f.gateway(t)
	if c := findCondition(g.Status.Conditions, "Accepted"); c == nil || c.Message != "second" || !c.LastTransitionTime.Time.Equal(clock.Add(-time.Hour)) {
		t.Errorf("Gateway Accepted = %+v, want message second, lastTransitionTime kept", c)
	}
	ours := parentsBy(f.route(t, "r1"))[DefaultControllerName]
	if c := findCondition(ours.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionFalse || !c.LastTransitionTime.Time.Equal(clock) {
		t.Errorf("r1 Accepted = %+v, want False since %v", c, clock)
	}
	if c := findCondition(ours.Conditions, "ResolvedRefs"); c == nil || !c.LastTransitionTime.Time.Equal(clock.Add(-time.Hour)) {
		t.Errorf("r1 ResolvedRefs = %+v, want lastTransitionTime kept", c)
	}

	// r2 detached: our parent goes, and only ours.
	if !w2.sync(ctx, f.updates("second", map[string]bool{"r1": false})) {
		t.Fatal("sync failed")
	}
	if ps := f.route(t, "r2").Status.Parents; len(ps) != 0 {
		t.Errorf("r2 parents %+v, want none", ps)
	}

	// A new leader that never wrote r1 finds our parent on it and removes it, keeping the
	// other controller's.
	w3 := NewWriter(f.gw, WriterOptions{Namespaces: []string{f.ns}})
	w3.written, w3.owned = map[string]Update{}, map[string]bool{}
	w3.discover(ctx)
	if !w3.owned[key("HTTPRoute", f.ns, "r1")] || w3.owned[key("HTTPRoute", f.ns, "r2")] {
		t.Errorf("discovered %v, want r1 only", w3.owned)
	}
	if !w3.sync(ctx, f.updates("second", nil)) {
		t.Fatal("sync failed")
	}
	ps = parentsBy(f.route(t, "r1"))
	if _, ok := ps[DefaultControllerName]; ok || len(ps) != 1 || ps[other].Conditions[0].Message != "theirs" {
		t.Errorf("r1 parents %+v, want the other controller's only", f.route(t, "r1").Status.Parents)
	}

	// An object deleted since the snapshot is skipped; an update of a wrong type is
	// refused without stopping the rest.
	bad := append(f.updates("third", nil),
		Update{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: f.ns, Name: "gone", Status: &gwv1.HTTPRouteStatus{}},
		Update{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: f.ns, Name: "r2", Status: &gwv1.GatewayStatus{}})
	if w3.sync(ctx, bad) {
		t.Error("sync reported success with a mistyped status")
	}
	if c := findCondition(f.gateway(t).Status.Conditions, "Accepted"); c == nil || c.Message != "third" {
		t.Errorf("Gateway Accepted = %+v, want message third", c)
	}
}

// A route deleted and created again under the same name (as consecutive conformance tests
// do) is a new object without status: the writer writes it although the update it would
// get is the one already written for the old object (same generation), because the UID
// differs.
func TestWriterRecreatedObject(t *testing.T) {
	cfg := realCluster(t)
	f := newFixture(t, cfg)
	ctx := t.Context()
	w := NewWriter(f.gw, WriterOptions{Namespaces: []string{f.ns}})
	w.written, w.owned = map[string]Update{}, map[string]bool{}
	withUIDs := func() []Update {
		us := f.updates("first", map[string]bool{"r2": true})
		for i := range us {
			if us[i].Kind == "HTTPRoute" {
				us[i].UID = string(f.route(t, us[i].Name).UID)
			}
		}
		return us
	}
	if !w.sync(ctx, withUIDs()) {
		t.Fatal("sync failed")
	}
	if _, ok := parentsBy(f.route(t, "r2"))[DefaultControllerName]; !ok {
		t.Fatal("r2 has no parent of ours after the first sync")
	}
	if err := f.gw.GatewayV1().HTTPRoutes(f.ns).Delete(ctx, "r2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.gw.GatewayV1().HTTPRoutes(f.ns).Create(ctx, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "r2"},
		Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := w.Writes()
	if !w.sync(ctx, withUIDs()) {
		t.Fatal("sync failed")
	}
	if _, ok := parentsBy(f.route(t, "r2"))[DefaultControllerName]; !ok || w.Writes() != before+1 {
		t.Errorf("re-created r2: parents %+v after %d writes, want ours written once", f.route(t, "r2").Status.Parents, w.Writes()-before)
	}
}
