package translate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestExportedTo(t *testing.T) {
	cases := []struct {
		list, defaults []string
		ns, to         string
		want           bool
	}{
		{nil, nil, "a", "gw", true},                                // Istio default "*"
		{nil, []string{"."}, "a", "gw", false},                     // mesh default private
		{nil, []string{"."}, "gw", "gw", true},                     // private, same namespace
		{[]string{"."}, nil, "a", "gw", false},                     // private
		{[]string{"."}, nil, "gw", "gw", true},                     //
		{[]string{"*"}, []string{"~"}, "a", "gw", true},            // own list beats the default
		{[]string{"~"}, nil, "gw", "gw", false},                    // nowhere, even its own namespace
		{[]string{"b", "gw"}, nil, "a", "gw", true},                // namespace list
		{[]string{"b"}, nil, "a", "gw", false},                     //
		{[]string{".", "b"}, nil, "b", "gw", false},                //
		{[]string{"a"}, []string{"*"}, "a", "istio-system", false}, // only namespace a
	}
	for _, tc := range cases {
		if got := exportedTo(tc.list, tc.defaults, tc.ns, tc.to); got != tc.want {
			t.Errorf("exportedTo(%v, default %v, in %s, to %s) = %v, want %v", tc.list, tc.defaults, tc.ns, tc.to, got, tc.want)
		}
	}
	for _, bad := range [][]string{{"~", "a"}, {"a", "a"}, {"Not_A_NS"}, {""}} {
		if ValidateExportTo(bad) == nil {
			t.Errorf("ValidateExportTo(%q) = nil, want an error", bad)
		}
	}
	for _, good := range [][]string{nil, {"."}, {"*"}, {"~"}, {".", "team-a", "*"}} {
		if err := ValidateExportTo(good); err != nil {
			t.Errorf("ValidateExportTo(%q) = %v", good, err)
		}
	}
}

func TestComposeOps(t *testing.T) {
	a := &snapshot.HeaderOps{Set: map[string]string{"X-A": "a", "X-Both": "a"}, Add: map[string]string{"X-Add": "a", "X-Gone": "a"}, Remove: []string{"X-R1"}}
	b := &snapshot.HeaderOps{Set: map[string]string{"X-Both": "b"}, Remove: []string{"X-Gone"}, Add: map[string]string{"X-B": "b"}}
	got, err := composeOps(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := &snapshot.HeaderOps{
		Set:    map[string]string{"X-A": "a", "X-Both": "b"}, // b's set wins
		Add:    map[string]string{"X-Add": "a", "X-B": "b"},  // b's remove drops a's add
		Remove: []string{"X-Gone", "X-R1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("composeOps (-want +got):\n%s", diff)
	}
	if _, err := composeOps(&snapshot.HeaderOps{Add: map[string]string{"X": "1"}}, &snapshot.HeaderOps{Add: map[string]string{"X": "2"}}); err == nil {
		t.Error("both adding X: want an error")
	}
}

func TestDelegateMatchMerge(t *testing.T) {
	p := func(s string) *networking.StringMatch {
		return &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: s}}
	}
	e := func(s string) *networking.StringMatch {
		return &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: s}}
	}
	re := func(s string) *networking.StringMatch {
		return &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: s}}
	}
	cases := []struct {
		root, leaf *networking.StringMatch
		conflict   bool
	}{
		{p("/a"), p("/a/b"), false},
		{p("/a/b"), p("/a"), true},
		{p("/a"), e("/a/x"), false},
		{e("/a"), e("/a"), false},
		{e("/a"), e("/b"), true},
		{e("/a"), p("/a"), true},
		{re("/a.*"), p("/a"), true},
		{p("/a"), re("/a.*"), true},
		{nil, p("/x"), false},
		{p("/x"), nil, false},
	}
	for _, tc := range cases {
		if got := stringMatchConflict(tc.root, tc.leaf); got != tc.conflict {
			t.Errorf("stringMatchConflict(%v, %v) = %v, want %v", tc.root, tc.leaf, got, tc.conflict)
		}
	}
	root := []*networking.HTTPMatchRequest{{Uri: p("/reviews"), Headers: map[string]*networking.StringMatch{"x-a": e("1")}}}
	child := []*networking.HTTPMatchRequest{{Uri: p("/reviews/v2"), Headers: map[string]*networking.StringMatch{"x-b": e("2")}}}
	ms, conflict := mergeMatches(root, child)
	if conflict || len(ms) != 1 || ms[0].Uri.GetPrefix() != "/reviews/v2" || len(ms[0].Headers) != 2 {
		t.Errorf("mergeMatches = %v, %v; want one match /reviews/v2 with both headers", ms, conflict)
	}
	if _, conflict := mergeMatches(root, []*networking.HTTPMatchRequest{{Uri: p("/ratings")}}); !conflict {
		t.Error("a child match outside the root's: want a conflict")
	}
}

func TestRejectedFieldsNamesPathAndReason(t *testing.T) {
	dr := &networking.DestinationRule{Host: "b", Subsets: []*networking.Subset{
		{Name: "v1"},
		{Name: "v2", TrafficPolicy: &networking.TrafficPolicy{Tunnel: &networking.TrafficPolicy_TunnelSettings{Protocol: "CONNECT", TargetHost: "t", TargetPort: 1}}},
	}, TrafficPolicy: &networking.TrafficPolicy{}} // empty: asks for nothing, not rejected
	var f findings
	if !rejectedFields(&f, "spec", dr.ProtoReflect()) {
		t.Fatal("want rejected fields")
	}
	var got []string
	for _, x := range f {
		got = append(got, x.field)
		if !strings.Contains(x.msg, "DestinationRule traffic policy: not supported yet") {
			t.Errorf("%s: message %q does not give the declared reason", x.field, x.msg)
		}
	}
	if diff := cmp.Diff([]string{"spec.subsets[1].trafficPolicy.tunnel"}, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	var none findings
	if rejectedFields(&none, "spec", (&networking.DestinationRule{Host: "b", Subsets: []*networking.Subset{{Name: "v1", Labels: map[string]string{"a": "b"}}}}).ProtoReflect()) {
		t.Errorf("a plain DestinationRule: rejected %v", none)
	}
}

// TestUnevaluableConditionsAreErrors: every condition left out of a match (treated as
// matching) is reported, for headers and withoutHeaders alike, and the rule fails closed.
func TestUnevaluableConditionsAreErrors(t *testing.T) {
	for _, m := range []*networking.HTTPMatchRequest{
		{WithoutHeaders: map[string]*networking.StringMatch{"bad name": {}}},
		{WithoutHeaders: map[string]*networking.StringMatch{"x-a": {MatchType: &networking.StringMatch_Exact{Exact: "a\r\nb"}}}},
		{WithoutHeaders: map[string]*networking.StringMatch{"x-a": {MatchType: &networking.StringMatch_Regex{Regex: "("}}}},
		{Headers: map[string]*networking.StringMatch{"bad name": {}}},
		{Headers: map[string]*networking.StringMatch{":path": {}}},
		{Headers: map[string]*networking.StringMatch{"@request.auth.claims.group": {MatchType: &networking.StringMatch_Exact{Exact: "a"}}}},
		{QueryParams: map[string]*networking.StringMatch{"q": {MatchType: &networking.StringMatch_Regex{Regex: "["}}}},
		{Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/a\nb"}}},
	} {
		r := &networking.HTTPRoute{Match: []*networking.HTTPMatchRequest{m}, DirectResponse: &networking.HTTPDirectResponse{Status: 403}}
		tr := newTranslator(&resources.Bundle{}, Options{}.withDefaults())
		var f findings
		crs := tr.compileRule(&f, vsFor(r), "spec.http[0]", 0, r, nil)
		if len(crs) != 1 || crs[0].route.Fail == nil {
			t.Errorf("%v: rule does not fail closed", m)
			continue
		}
		if !f.hasError() {
			t.Errorf("%v: no error reported", m)
		}
		if got := crs[0].route.Match; len(got) != 1 || !cmp.Equal(got[0], snapshot.Match{}) {
			t.Errorf("%v: the unevaluable condition is not left out: %+v", m, got)
		}
	}
}

func vsFor(rules ...*networking.HTTPRoute) *resources.VirtualService {
	return &resources.VirtualService{Meta: resources.Meta{Namespace: "ns", Name: "vs"}, Spec: &networking.VirtualService{Http: rules}}
}
