package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portcullis/portcullis/internal/decode"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// DefaultNamespace is the namespace given to Secrets read from credential directories
// when Options.Namespace is empty: where Istio's ingress gateway looks for credentialName.
const DefaultNamespace = "istio-system"

// Options says what to read.
type Options struct {
	// Paths are configuration files or directories (walked recursively, in sorted order,
	// taking *.yaml, *.yml and *.json; names starting with "." are skipped).
	Paths []string
	// CredentialsDir (optional) holds one sub-directory per Secret and one file per key,
	// the layout of a Kubernetes Secret volume mount (..data symlink swaps included).
	CredentialsDir string
	// Namespace of the Secrets read from CredentialsDir; DefaultNamespace if empty.
	Namespace string

	// The rest is used by Watcher only.

	// OnFilesChanged, if set, receives the extra files (see Watcher.SetExtraFiles) that
	// changed in a settled burst, as they were given. Called from Run's goroutine only.
	OnFilesChanged func(paths []string)
	// Quiet and MaxWait tune the debounce; zero means DefaultQuiet / DefaultMaxWait.
	Quiet, MaxWait time.Duration
}

func (o Options) credentialDirs() []string {
	if o.CredentialsDir == "" {
		return nil
	}
	return []string{o.CredentialsDir}
}

func (o Options) namespace() string {
	if o.Namespace == "" {
		return DefaultNamespace
	}
	return o.Namespace
}

// Load reads every configuration path and credential directory once and returns the
// combined bundle: objects in path order, then document order; credential Secrets after.
// A path that does not exist is an error (nothing is returned); a file that cannot be read
// or decoded is a diagnostic in the bundle, and everything else still loads.
func Load(opts Options) (*resources.Bundle, error) {
	l, err := load(opts, nil)
	if err != nil {
		return nil, err
	}
	return l.bundle, nil
}

// loaded is the result of one load: the bundle and every directory it read, which the
// watcher must watch to notice changes inside them.
type loaded struct {
	bundle *resources.Bundle
	dirs   []string                     // absolute
	good   map[string]*resources.Bundle // per file, its last version without errors (see decoded)
	// seen is what each file and directory read looked like (os.Stat, symlinks followed),
	// so the watcher can tell whether anything changed before its watches were in place.
	seen map[string]os.FileInfo
}

// unchanged reports whether every file and directory l read still looks the same: same
// file (a symlink swap or rename-over gives another), size and modification time; a
// directory's modification time changes when entries are added, removed or renamed.
func (l loaded) unchanged() bool {
	for p, before := range l.seen {
		now, err := os.Stat(p)
		if err != nil || !os.SameFile(before, now) || before.Size() != now.Size() || !before.ModTime().Equal(now.ModTime()) {
			return false
		}
	}
	return true
}

type loader struct {
	out     loaded
	visited map[string]bool // real paths of files and directories already read
	prev    map[string]*resources.Bundle
}

// load reads everything opts names. prev is the previous load's loaded.good (nil for a
// one-shot load).
func load(opts Options, prev map[string]*resources.Bundle) (loaded, error) {
	l := &loader{out: loaded{bundle: &resources.Bundle{}, good: map[string]*resources.Bundle{}, seen: map[string]os.FileInfo{}},
		visited: map[string]bool{}, prev: prev}
	var missing []error
	for _, p := range opts.Paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, fmt.Errorf("config path %q: %w", p, err))
		}
	}
	for _, d := range opts.credentialDirs() {
		if fi, err := os.Stat(d); err != nil {
			missing = append(missing, fmt.Errorf("credentials directory %q: %w", d, err))
		} else if !fi.IsDir() {
			missing = append(missing, fmt.Errorf("credentials directory %q: not a directory", d))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return loaded{}, err
	}
	for _, p := range opts.Paths {
		l.path(p, true)
	}
	for _, d := range opts.credentialDirs() {
		l.credentials(d, opts.namespace())
	}
	return l.out, nil
}

// path reads p: a directory recursively, a file if explicit (named by the user) or if it
// has a configuration extension. Symbolic links are followed; each real file or directory
// is read once, which also stops symlink loops.
func (l *loader) path(p string, explicit bool) {
	fi, err := os.Stat(p)
	if err != nil {
		l.problem(p, fmt.Sprintf("cannot read: %v", err))
		return
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		real = p
	}
	if l.visited[real] {
		return
	}
	l.visited[real] = true
	l.out.seen[p] = fi
	if fi.IsDir() {
		l.dir(p)
		return
	}
	if !explicit && !isConfigName(p) {
		return
	}
	data, err := os.ReadFile(p)
	if err != nil {
		l.problem(p, fmt.Sprintf("cannot read: %v", err))
		return
	}
	l.out.bundle.Append(l.decoded(p, decode.Decode(data, p)))
}

func (l *loader) dir(d string) {
	if abs, err := filepath.Abs(d); err == nil {
		l.out.dirs = append(l.out.dirs, abs)
	}
	entries, err := os.ReadDir(d) // sorted by name
	if err != nil {
		l.problem(d, fmt.Sprintf("cannot read directory: %v", err))
		return
	}
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		l.path(filepath.Join(d, e.Name()), false)
	}
}

// credentials reads a credentials directory: each sub-directory is one Secret named after
// it, each regular file in that one key. A secret with an unreadable key is left out.
func (l *loader) credentials(d, namespace string) {
	if abs, err := filepath.Abs(d); err == nil {
		l.out.dirs = append(l.out.dirs, abs)
	}
	if fi, err := os.Stat(d); err == nil {
		l.out.seen[d] = fi
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		l.problem(d, fmt.Sprintf("cannot read credentials directory: %v", err))
		return
	}
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		sub := filepath.Join(d, e.Name())
		fi, err := os.Stat(sub)
		if err != nil {
			l.problem(sub, fmt.Sprintf("cannot read: %v", err))
			continue
		}
		l.out.seen[sub] = fi
		if !fi.IsDir() {
			l.warn(sub, "ignored: a credentials directory holds one sub-directory per secret, one file per key")
			continue
		}
		if abs, err := filepath.Abs(sub); err == nil {
			l.out.dirs = append(l.out.dirs, abs)
		}
		if s, ok := l.secret(sub, e.Name(), namespace); ok {
			l.out.bundle.Secrets = append(l.out.bundle.Secrets, s)
		}
	}
}

func (l *loader) secret(dir, name, namespace string) (resources.Secret, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		l.problem(dir, fmt.Sprintf("cannot read secret directory: %v", err))
		return resources.Secret{}, false
	}
	data := map[string][]byte{}
	ok := true
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p) // key files are symlinks into ..data in a Kubernetes mount
		if err == nil {
			l.out.seen[p] = fi
		}
		if err == nil && !fi.Mode().IsRegular() {
			continue
		}
		var v []byte
		if err == nil {
			v, err = os.ReadFile(p)
		}
		if err != nil {
			l.problem(p, fmt.Sprintf("secret %s/%s: cannot read key %q: %v", namespace, name, e.Name(), err))
			ok = false
			continue
		}
		data[e.Name()] = v
	}
	if !ok {
		return resources.Secret{}, false
	}
	return newSecret(namespace, name, dir, data), true
}

func newSecret(namespace, name, dir string, data map[string][]byte) resources.Secret {
	return resources.Secret{
		Source: resources.Source{File: dir},
		Secret: &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			Data:       data,
			Type:       corev1.SecretTypeOpaque,
		},
	}
}

func (l *loader) problem(file, msg string) {
	l.out.bundle.Diagnostics = append(l.out.bundle.Diagnostics, diag.Diagnostic{Severity: diag.Error, File: file, Message: msg})
}

func (l *loader) warn(file, msg string) {
	l.out.bundle.Diagnostics = append(l.out.bundle.Diagnostics, diag.Diagnostic{Severity: diag.Warning, File: file, Message: msg})
}

// hidden reports names to skip: dot-files, editor leftovers, and Kubernetes' atomic-writer
// internals (..data, ..2026_01_01_...), whose content is reached through the top-level
// symlinks instead, so it is never read twice.
func hidden(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~")
}

func isConfigName(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func sortedUnique(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
