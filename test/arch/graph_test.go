package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/portcullis/portcullis"

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath   string
	Dir          string
	Name         string
	Standard     bool
	GoFiles      []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Module       *struct{ Path string }
}

// graph is every package of the module and everything they import, by import path.
type graph map[string]*pkg

var (
	loadOnce   sync.Once
	loaded     graph
	loadErr    error
	moduleRoot string
)

// load runs `go list -deps -json ./...` once per test binary from the module root.
func load(t *testing.T) graph {
	t.Helper()
	loadOnce.Do(func() {
		root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if err != nil {
			loadErr = fmt.Errorf("go list -m: %w", err)
			return
		}
		moduleRoot = strings.TrimSpace(string(root))
		cmd := exec.Command("go", "list", "-deps", "-json", "./...")
		cmd.Dir = moduleRoot
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			loadErr = fmt.Errorf("go list -deps -json ./...: %w\n%s", err, stderr.String())
			return
		}
		loaded, loadErr = decodeGraph(out)
		if loadErr == nil {
			loadErr = touchSources(moduleRoot)
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

// touchSources opens every directory and stats every Go file and go.mod of the module in
// this process. go test caches a passing result keyed on the files the test process
// itself touched; what `go list` read in its own process would not count, so without this
// `go test ./test/arch` could report a cached pass after a bad import was added.
func touchSources(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "results") {
				return filepath.SkipDir
			}
			f, err := os.Open(path) // recorded with the directory's listing
			if err != nil {
				return err
			}
			return f.Close()
		}
		if strings.HasSuffix(path, ".go") || d.Name() == "go.mod" {
			_, err = os.Stat(path)
		}
		return err
	})
}

func decodeGraph(out []byte) (graph, error) {
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return g, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding go list output: %w", err)
		}
		g[p.ImportPath] = &p
	}
}

// rel is an import path relative to the module ("internal/app"), or the path unchanged
// when it is outside the module.
func rel(path string) string {
	if path == module {
		return "."
	}
	return strings.TrimPrefix(path, module+"/")
}

// inModule reports whether path is one of the module's own packages.
func inModule(path string) bool {
	return path == module || strings.HasPrefix(path, module+"/")
}

// under reports whether the module-relative path p is dir or below it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// ours returns the module's own packages (module-relative paths) for which keep is true,
// sorted.
func (g graph) ours(keep func(rel string) bool) []*pkg {
	var ps []*pkg
	for path, p := range g {
		if inModule(path) && keep(rel(path)) {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].ImportPath < ps[j].ImportPath })
	return ps
}

// reach walks the non-test imports from root breadth-first and returns, for every package
// bad reports, the shortest import chain that reaches it ("a -> b -> c", module-relative).
// It does not walk past a bad package, so one wrong import is reported once, not once per
// package it drags in.
func (g graph) reach(root string, bad func(path string) bool) []string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	var hits []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur != root && bad(cur) {
			hits = append(hits, chain(prev, cur))
			continue
		}
		p := g[cur]
		if p == nil {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	sort.Strings(hits)
	return hits
}

func chain(prev map[string]string, last string) string {
	var parts []string
	for cur := last; cur != ""; cur = prev[cur] {
		parts = append(parts, rel(cur))
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, " -> ")
}

// prefixes returns a predicate matching import paths equal to or below any of the given
// prefixes; entries relative to the module ("internal/decode") are made absolute. A prefix
// ending in "/" ("k8s.io/") matches by plain string prefix.
func prefixes(list ...string) func(string) bool {
	return func(path string) bool {
		for _, p := range list {
			if strings.HasSuffix(p, "/") {
				if strings.HasPrefix(path, p) {
					return true
				}
				continue
			}
			if strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "cmd/") {
				p = module + "/" + p
			}
			if path == p || strings.HasPrefix(path, p+"/") {
				return true
			}
		}
		return false
	}
}

// files returns the absolute paths of p's non-test Go files.
func (p *pkg) files() []string {
	fs := make([]string, len(p.GoFiles))
	for i, f := range p.GoFiles {
		fs[i] = filepath.Join(p.Dir, f)
	}
	return fs
}
