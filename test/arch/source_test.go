package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// forbiddenUse lists package-level identifiers that mean global state or a lifetime no
// context owns, by import path, with the reason shown on failure.
var forbiddenUse = map[string]map[string]string{
	"net/http": {
		"DefaultServeMux": "global mux", "Handle": "registers on DefaultServeMux",
		"HandleFunc": "registers on DefaultServeMux", "DefaultClient": "no timeout, shared",
		"DefaultTransport": "shared global transport", "Get": "uses DefaultClient",
		"Post": "uses DefaultClient", "PostForm": "uses DefaultClient", "Head": "uses DefaultClient",
		"ListenAndServe": "no Shutdown, no context", "ListenAndServeTLS": "no Shutdown, no context",
	},
	"github.com/prometheus/client_golang/prometheus": {
		"DefaultRegisterer": "default registry", "DefaultGatherer": "default registry",
		"MustRegister": "registers on the default registry", "Register": "registers on the default registry",
		"Unregister": "default registry",
	},
	"github.com/prometheus/client_golang/prometheus/promhttp": {"Handler": "serves the default registry"},
	"log/slog": {
		"SetDefault": "global logger", "Default": "global logger (inject *slog.Logger)",
		"Debug": "global logger", "Info": "global logger", "Warn": "global logger", "Error": "global logger",
		"Log": "global logger", "LogAttrs": "global logger",
	},
	"log": {
		"Print": "global logger", "Printf": "global logger", "Println": "global logger",
		"Fatal": "global logger, exits", "Fatalf": "global logger, exits", "Fatalln": "global logger, exits",
		"Panic": "global logger", "Panicf": "global logger", "SetOutput": "global logger",
		"SetFlags": "global logger", "Default": "global logger",
	},
}

// impureInTranslate are the identifiers that would make translate depend on the clock,
// randomness, the environment or the network. A nil map forbids every use of the package.
var impureInTranslate = map[string]map[string]string{
	"os":           nil,
	"math/rand":    nil,
	"math/rand/v2": nil,
	"crypto/rand":  nil,
	"time": {
		"Now": "clock", "Since": "clock", "Until": "clock", "Sleep": "clock", "After": "clock",
		"AfterFunc": "clock", "Tick": "clock", "NewTimer": "clock", "NewTicker": "clock",
	},
	"net": {
		"Dial": "network", "DialTimeout": "network", "DialTCP": "network", "DialUDP": "network",
		"Listen": "network", "ListenPacket": "network", "ListenTCP": "network",
		"LookupHost": "DNS", "LookupIP": "DNS", "LookupAddr": "DNS", "LookupCNAME": "DNS",
		"LookupSRV": "DNS", "LookupTXT": "DNS", "LookupPort": "DNS", "ResolveTCPAddr": "DNS",
		"ResolveIPAddr": "DNS", "ResolveUDPAddr": "DNS", "Interfaces": "host state",
		"InterfaceAddrs": "host state", "DefaultResolver": "DNS",
	},
}

// allowedVars are the package-level variables reviewed as never written after start-up.
// Sentinel errors (errors.New), compiled regexps (regexp.MustCompile) and go:embed file
// systems are allowed without listing; anything else must be added here with a reason.
var allowedVars = map[string]string{
	"internal/cli.Version":                  "set at link time with -ldflags -X; never written at run time",
	"internal/decode.istioVersions":         "read-only lookup table",
	"internal/metrics.ejectedDesc":          "an immutable prometheus.Desc of the ejected-endpoint gauge",
	"internal/decode.istioKinds":            "read-only lookup table",
	"internal/snapshot.DefaultRetry":        "Istio's default retry policy; read-only (routes point at it)",
	"internal/snapshot.RetryConditionNames": "read-only lookup table",
	"internal/translate/fieldspec.messages": "filled by init functions (Declare) only; read-only afterwards",
	"internal/translate/fieldspec.roots":    "filled by init functions (AddRoot) only; read-only afterwards",
}

// allowedInit are the packages whose init functions were reviewed: they only fill a
// registry that is read-only once main runs.
var allowedInit = map[string]string{
	"internal/translate/fieldspec": "each area's file declares its Istio fields (Declare/AddRoot); nothing writes them afterwards",
}

// parsed is one parsed non-test file with its import names resolved.
type parsed struct {
	pkg     *pkg
	file    *ast.File
	fset    *token.FileSet
	imports map[string]string // local name -> import path
}

func parseFiles(t *testing.T, ps []*pkg) []parsed {
	t.Helper()
	fset := token.NewFileSet()
	var out []parsed
	for _, p := range ps {
		for _, name := range p.files() {
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				t.Fatalf("parsing %s: %v", name, err)
			}
			out = append(out, parsed{pkg: p, file: f, fset: fset, imports: importNames(f)})
		}
	}
	return out
}

func importNames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if strings.HasPrefix(name, "v") && strings.Contains(path, "/") {
			if _, err := strconv.Atoi(name[1:]); err == nil { // math/rand/v2 is "rand"
				trimmed := strings.TrimSuffix(path, "/"+name)
				name = trimmed[strings.LastIndex(trimmed, "/")+1:]
			}
		}
		if spec.Name != nil {
			name = spec.Name.Name
		}
		m[name] = path
	}
	return m
}

// uses calls found for every pkg.Ident selector in f that names an imported package.
func (pf parsed) uses(found func(path, ident string, pos token.Position)) {
	ast.Inspect(pf.file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok || x.Obj != nil { // x.Obj set: a local variable, not a package
			return true
		}
		if path, ok := pf.imports[x.Name]; ok {
			found(path, sel.Sel.Name, pf.fset.Position(sel.Pos()))
		}
		return true
	})
}

func TestSourceRules(t *testing.T) {
	g := load(t)
	serving := parseFiles(t, g.ours(func(r string) bool { return under(r, "internal") || under(r, "cmd") }))

	t.Run("no init functions", func(t *testing.T) {
		for _, pf := range serving {
			for _, d := range pf.file.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" && allowedInit[rel(pf.pkg.ImportPath)] == "" {
					t.Errorf("%s: func init (registration at import time is global state; build it in New)", where(pf.fset.Position(fn.Pos())))
				}
			}
		}
	})

	t.Run("no default registries, clients, servers or loggers", func(t *testing.T) {
		for _, pf := range serving {
			pf.uses(func(path, ident string, pos token.Position) {
				if why, ok := forbiddenUse[path][ident]; ok {
					t.Errorf("%s: %s.%s (%s)", where(pos), path, ident, why)
				}
			})
		}
	})

	t.Run("no unreviewed package-level variables", func(t *testing.T) {
		for _, pf := range serving {
			for _, v := range packageVars(pf) {
				if _, ok := allowedVars[rel(pf.pkg.ImportPath)+"."+v.Name]; !ok {
					t.Errorf("%s: package-level var %s (mutable global state; pass it in, or make it a const or a func; if it is truly read-only, list it in allowedVars with the reason)", where(pf.fset.Position(v.Pos())), v.Name)
				}
			}
		}
	})

	t.Run("translate reads no clock, randomness, environment or network and starts no goroutines", func(t *testing.T) {
		for _, pf := range serving {
			if !under(rel(pf.pkg.ImportPath), "internal/translate") {
				continue
			}
			pf.uses(func(path, ident string, pos token.Position) {
				idents, ok := impureInTranslate[path]
				if !ok {
					return
				}
				if why, bad := idents[ident]; bad || idents == nil {
					t.Errorf("%s: %s.%s in translate (%s; translate must be pure)", where(pos), path, ident, orDefault(why, "I/O or randomness"))
				}
			})
			ast.Inspect(pf.file, func(n ast.Node) bool {
				if g, ok := n.(*ast.GoStmt); ok {
					t.Errorf("%s: go statement in translate (no goroutines)", where(pf.fset.Position(g.Pos())))
				}
				return true
			})
		}
	})
}

// packageVars returns the package-level variables of pf that are not allowed by shape:
// blank names, sentinel errors, compiled regexps and go:embed file systems.
func packageVars(pf parsed) []*ast.Ident {
	var out []*ast.Ident
	for _, d := range pf.file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if n.Name == "_" || isEmbedFS(pf, vs) || (i < len(vs.Values) && benignInit(pf, vs.Values[i])) {
					continue
				}
				out = append(out, n)
			}
		}
	}
	return out
}

func isEmbedFS(pf parsed, vs *ast.ValueSpec) bool {
	sel, ok := vs.Type.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && pf.imports[x.Name] == "embed" && sel.Sel.Name == "FS"
}

func benignInit(pf parsed, e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	switch pf.imports[x.Name] + "." + sel.Sel.Name {
	case "errors.New", "regexp.MustCompile":
		return true
	}
	return false
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// where is a position relative to the module root, as a reviewer would type it.
func where(pos token.Position) string {
	pos.Filename = strings.TrimPrefix(pos.Filename, moduleRoot+"/")
	return pos.String()
}
