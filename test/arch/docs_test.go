package arch

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// missingDocGo lists packages allowed, for now, to keep their package comment outside
// doc.go, with the reason. Empty it as soon as the owner can.
var missingDocGo = map[string]string{}

func TestPackageDocs(t *testing.T) {
	g := load(t)
	for _, p := range g.ours(func(r string) bool { return under(r, "internal") }) {
		r := rel(p.ImportPath)
		t.Run(r, func(t *testing.T) {
			text, ok := docGo(t, p)
			if !ok {
				if _, excused := missingDocGo[r]; !excused {
					t.Errorf("%s has no doc.go with a package comment (say the package's job and, after \"Imports:\", what it may import)", r)
				}
				return
			}
			_, imports, found := strings.Cut(text, "Imports:")
			if !found {
				t.Errorf("%s/doc.go: package comment has no \"Imports:\" paragraph", r)
				return
			}
			for _, missing := range undeclared(g, p, imports) {
				t.Errorf("%s imports %s, which %s/doc.go's \"Imports:\" does not name (add it there if the dependency is meant)", r, missing, r)
			}
		})
	}
}

// docGo returns the package comment of p's doc.go.
func docGo(t *testing.T, p *pkg) (string, bool) {
	t.Helper()
	for _, f := range p.GoFiles {
		if f != "doc.go" {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatalf("parsing %s: %v", filepath.Join(p.Dir, f), err)
		}
		if file.Doc == nil {
			return "", false
		}
		return file.Doc.Text(), true
	}
	return "", false
}

var braces = regexp.MustCompile(`([\w./-]+)/\{([^}]*)\}`)

// undeclared returns p's direct non-standard imports that the "Imports:" text names
// neither by path, nor by a parent path down to its module ("k8s.io/api" for
// k8s.io/api/core/v1), nor without "github.com/", nor by the module's last element
// ("cobra"). "internal/dataplane/{listener,router}" names both packages.
func undeclared(g graph, p *pkg, imports string) []string {
	text := " " + strings.Join(strings.Fields(imports), " ") + " "
	text = braces.ReplaceAllStringFunc(text, func(m string) string {
		sub := braces.FindStringSubmatch(m)
		var out []string
		for _, item := range strings.Split(sub[2], ",") {
			out = append(out, sub[1]+"/"+strings.TrimSpace(item))
		}
		return strings.Join(out, " ")
	})
	var missing []string
	for _, imp := range p.Imports {
		dep := g[imp]
		if dep == nil || dep.Standard {
			continue
		}
		if !declared(text, names(imp, dep), inModule(imp)) {
			missing = append(missing, rel(imp))
		}
	}
	return missing
}

// names are the spellings that count as naming import path imp in a doc comment.
func names(imp string, dep *pkg) []string {
	if inModule(imp) {
		return []string{rel(imp)}
	}
	root := imp
	if dep.Module != nil {
		root = dep.Module.Path
	}
	var out []string
	for p := imp; len(p) >= len(root); p = filepath.Dir(p) {
		out = append(out, p, strings.TrimPrefix(p, "github.com/"))
		if !strings.Contains(p, "/") {
			break
		}
	}
	if last := root[strings.LastIndex(root, "/")+1:]; len(last) >= 5 {
		out = append(out, last)
	}
	return out
}

// declared reports whether text holds one of names as a whole word. An outside path may
// be followed by "/" ("k8s.io/api core/v1" and "k8s.io/api/core/v1" both name
// k8s.io/api/core/v1's module); one of ours must be named exactly.
func declared(text string, names []string, exact bool) bool {
	for _, n := range names {
		for i := strings.Index(text, n); i >= 0; {
			before, after := text[i-1], text[i+len(n)]
			if !wordByte(before) && before != '/' && !wordByte(after) && !(exact && after == '/') {
				return true
			}
			next := strings.Index(text[i+1:], n)
			if next < 0 {
				break
			}
			i += 1 + next
		}
	}
	return false
}

func wordByte(b byte) bool {
	return b == '_' || b == '-' ||
		('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9')
}
