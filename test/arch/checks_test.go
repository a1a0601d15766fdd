package arch

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The rules above pass on a clean tree, which alone does not show they can fail. These
// cases run the checkers on small made-up graphs and doc texts with known violations.

func TestReachReportsShortestChainOnce(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	g := graph{
		m("internal/dataplane"):          {Imports: []string{m("internal/dataplane/listener"), "fmt"}},
		m("internal/dataplane/listener"): {Imports: []string{m("internal/credential"), m("internal/snapshot")}},
		m("internal/credential"):         {Imports: []string{"k8s.io/api/core/v1"}},
		m("internal/snapshot"):           {Imports: []string{"k8s.io/apimachinery/pkg/types"}},
		"k8s.io/api/core/v1":             {Imports: []string{"k8s.io/apimachinery/pkg/types"}},
	}
	tests := []struct {
		name string
		bad  []string
		want []string
	}{
		{"clean", []string{"istio.io/"}, nil},
		{"stops at the first forbidden package", []string{"internal/credential", "k8s.io/"}, []string{
			"internal/dataplane -> internal/dataplane/listener -> internal/credential",
			"internal/dataplane -> internal/dataplane/listener -> internal/snapshot -> k8s.io/apimachinery/pkg/types",
		}},
		{"transitive", []string{"k8s.io/api/"}, []string{
			"internal/dataplane -> internal/dataplane/listener -> internal/credential -> k8s.io/api/core/v1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := g.reach(m("internal/dataplane"), prefixes(tc.bad...))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("chains (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUndeclaredImports(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	mod := func(p string) *struct{ Path string } { return &struct{ Path string }{p} }
	g := graph{
		m("internal/x"): {Imports: []string{"fmt", m("internal/dataplane/router"),
			"k8s.io/api/core/v1", "github.com/spf13/cobra", "golang.org/x/sync/errgroup"}},
		"fmt":                          {Standard: true},
		m("internal/dataplane/router"): {},
		"k8s.io/api/core/v1":           {Module: mod("k8s.io/api")},
		"github.com/spf13/cobra":       {Module: mod("github.com/spf13/cobra")},
		"golang.org/x/sync/errgroup":   {Module: mod("golang.org/x/sync")},
	}
	all := []string{"internal/dataplane/router", "k8s.io/api/core/v1", "github.com/spf13/cobra", "golang.org/x/sync/errgroup"}
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"nothing declared", "standard library only.", all},
		{"every spelling", "internal/dataplane/{listener,\n router}, k8s.io/api core/v1, cobra, golang.org/x/sync (errgroup).", nil},
		{"a parent of ours is not ours", "internal/dataplane, k8s.io/api/core/v1, spf13/cobra, golang.org/x/sync/errgroup", all[:1]},
		{"a longer name is not the name", "k8s.io/apimachinery, cobra2, golang.org/x/syncer", all[:4]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := undeclared(g, g[m("internal/x")], tc.doc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("undeclared (-want +got):\n%s", diff)
			}
		})
	}
}
