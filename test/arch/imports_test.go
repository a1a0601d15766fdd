package arch

import (
	"strings"
	"testing"
)

// controlPlane is what the data plane must never reach, even transitively: the inputs
// (resources, sources, decode), the translator, the credential store (the listener sees
// key material through listener.Credentials), the wiring, and the Kubernetes, Istio and
// Prometheus libraries (metrics reach the dataplane through observer interfaces).
var controlPlane = []string{
	"internal/resources", "internal/source", "internal/decode", "internal/translate",
	"internal/credential", "internal/store", "internal/app", "internal/admin",
	"internal/metrics", "k8s.io/", "istio.io/", "sigs.k8s.io/", "github.com/prometheus/",
}

// ioPackages are packages whose import alone means translate would do I/O, read
// randomness or log instead of returning diagnostics. Checked on direct imports only:
// istio.io/api and k8s.io/apimachinery pull os and net/http in transitively.
var ioPackages = []string{
	"os", "io/fs", "io/ioutil", "path/filepath", "net/http", "net/rpc", "net/smtp",
	"syscall", "math/rand", "crypto/rand", "log", "internal/source", "internal/store",
	"internal/credential", "internal/dataplane", "internal/app", "internal/admin",
	"internal/metrics", "internal/decode",
}

// compositionRoots may import internal/app and wire the components together.
func compositionRoot(p string) bool {
	return p == "internal/app" || p == "internal/cli" || under(p, "cmd") || under(p, "test") ||
		under(p, "bench") || under(p, "deploy") ||
		// `portcullis demo` runs the gateway in-process beside the walkthrough's backends;
		// it is a command body that lives outside cli to keep cli thin. Only cli imports it.
		p == "internal/demo"
}

// components are the long-lived parts app builds from Options; only the composition roots
// (and a component's own sub-packages) may import them.
var components = []string{
	"internal/admin", "internal/credential", "internal/dataplane", "internal/metrics",
	"internal/source/file", "internal/source/kube", "internal/store", "internal/translate",
}

func TestImportRules(t *testing.T) {
	g := load(t)

	t.Run("dataplane never reaches the control plane", func(t *testing.T) {
		for _, p := range g.ours(func(r string) bool { return under(r, "internal/dataplane") }) {
			for _, c := range g.reach(p.ImportPath, prefixes(controlPlane...)) {
				t.Errorf("forbidden import chain: %s", c)
			}
		}
	})

	t.Run("translate imports nothing that does I/O", func(t *testing.T) {
		bad := prefixes(ioPackages...)
		for _, p := range g.ours(func(r string) bool { return under(r, "internal/translate") }) {
			for _, imp := range p.Imports {
				if bad(imp) {
					t.Errorf("%s imports %s (translate is pure: no I/O, no randomness, no logging)", rel(p.ImportPath), rel(imp))
				}
			}
		}
	})

	t.Run("snapshot and diag use the standard library only", func(t *testing.T) {
		for _, root := range []string{"internal/snapshot", "internal/diag"} {
			for _, c := range g.reach(module+"/"+root, func(path string) bool { return !g[path].Standard }) {
				t.Errorf("non-standard import chain: %s", c)
			}
		}
	})

	t.Run("credential sees no Kubernetes, Istio or Prometheus types", func(t *testing.T) {
		bad := prefixes("k8s.io/", "istio.io/", "sigs.k8s.io/", "github.com/prometheus/",
			"internal/resources", "internal/source", "internal/decode", "internal/translate",
			"internal/dataplane", "internal/app")
		for _, p := range g.ours(func(r string) bool { return under(r, "internal/credential") }) {
			for _, c := range g.reach(p.ImportPath, bad) {
				t.Errorf("forbidden import chain: %s", c)
			}
		}
	})

	t.Run("only composition roots import internal/app", func(t *testing.T) {
		for _, p := range g.ours(func(r string) bool { return !compositionRoot(r) }) {
			for _, imp := range allImports(p) {
				if imp == module+"/internal/app" {
					t.Errorf("%s imports internal/app; only app, cli, cmd, test, bench and deploy may", rel(p.ImportPath))
				}
			}
		}
	})

	t.Run("only composition roots wire the components", func(t *testing.T) {
		for _, p := range g.ours(func(r string) bool { return !compositionRoot(r) }) {
			r := rel(p.ImportPath)
			for _, imp := range p.Imports {
				for _, c := range components {
					if prefixes(c)(imp) && !under(r, c) && !under(rel(imp), r) {
						t.Errorf("%s imports component %s; components are built and connected by internal/app", r, rel(imp))
					}
				}
			}
		}
	})

	t.Run("no util or common packages", func(t *testing.T) {
		banned := map[string]bool{"util": true, "utils": true, "common": true, "helpers": true, "misc": true}
		for _, p := range g.ours(func(string) bool { return true }) {
			last := p.ImportPath[strings.LastIndex(p.ImportPath, "/")+1:]
			if banned[p.Name] || banned[last] {
				t.Errorf("package %s (%s): name it after what it does, not where it is used", rel(p.ImportPath), p.Name)
			}
		}
	})
}

// allImports is a package's imports including those of its tests.
func allImports(p *pkg) []string {
	var all []string
	all = append(all, p.Imports...)
	all = append(all, p.TestImports...)
	return append(all, p.XTestImports...)
}
