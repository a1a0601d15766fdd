package file

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// rule says which events in one watched directory matter and what they mean.
type rule struct {
	names map[string]bool // base names that matter; nil: every name not hidden
	extra string          // non-empty: the event means this extra file changed; else reload
}

// match reports whether an entry named base in the rule's directory is relevant. Names
// starting with ".." always are: that is how Kubernetes swaps a volume's content (it
// renames a new ..data symlink over the old one).
func (r rule) match(base string) bool {
	if strings.HasPrefix(base, "..") {
		return true
	}
	if r.names != nil {
		return r.names[base]
	}
	return !hidden(base)
}

// watchState is the set of watched directories and their rules. Only Run's goroutine
// uses it.
type watchState struct {
	fsw    *fsnotify.Watcher
	logger *slog.Logger
	rules  map[string][]rule // absolute directory -> rules
}

// desiredRules computes the rules for the configuration read from dirs (every directory
// the last load walked) and the extra files. Directories are watched rather than files:
// editors and Kubernetes replace files by rename, which a watch on the file itself loses.
// The parent of every configured path is watched too, so a deleted and recreated path,
// or a file renamed over it, is noticed.
func desiredRules(opts Options, dirs, extra []string) map[string][]rule {
	rules := map[string][]rule{}
	for _, d := range dirs {
		rules[d] = append(rules[d], rule{})
	}
	named := func(p string, extra string) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return
		}
		targets := []string{abs}
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			targets = append(targets, real)
		}
		for _, t := range targets {
			// Watch the nearest existing ancestor for the next missing path component, so
			// that a path whose directories are created later is still noticed.
			dir, child := filepath.Dir(t), filepath.Base(t)
			for !exists(dir) && filepath.Dir(dir) != dir {
				dir, child = filepath.Dir(dir), filepath.Base(dir)
			}
			rules[dir] = append(rules[dir], rule{names: map[string]bool{child: true}, extra: extra})
		}
	}
	for _, p := range opts.Paths {
		named(p, "")
	}
	for _, p := range opts.credentialDirs() {
		named(p, "")
	}
	for _, p := range extra {
		named(p, p)
	}
	return rules
}

// sync brings the watches in line with the desired rules. It reports whether it started
// watching a directory among dirs (the caller then reloads, in case a file was written
// there before the watch). A directory that cannot be watched (it does not exist yet) is
// skipped; its parent's rule notices when it appears.
func (st *watchState) sync(opts Options, dirs, extra []string) bool {
	desired := desiredRules(opts, dirs, extra)
	current := map[string]bool{}
	for _, d := range st.fsw.WatchList() {
		current[d] = true
	}
	loadedDir := map[string]bool{}
	for _, d := range dirs {
		loadedDir[d] = true
	}
	added := false
	for d := range desired {
		if current[d] {
			continue
		}
		if err := st.fsw.Add(d); err != nil {
			st.logger.Debug("cannot watch directory", "dir", d, "error", err)
			continue
		}
		added = added || loadedDir[d]
	}
	for d := range current {
		if _, ok := desired[d]; !ok {
			_ = st.fsw.Remove(d) // may already be gone with its directory
		}
	}
	st.rules = desired
	return added
}

// classify says whether ev calls for a reload and which extra files it concerns.
func (st *watchState) classify(ev fsnotify.Event) (reload bool, extra []string) {
	if rules, watched := st.rules[ev.Name]; watched && ev.Has(fsnotify.Remove|fsnotify.Rename) {
		// A watched directory went away (or was renamed): drop the stale watch so that the
		// next sync watches a directory recreated under the same name.
		_ = st.fsw.Remove(ev.Name)
		for _, r := range rules {
			if r.extra != "" {
				extra = append(extra, r.extra)
			} else {
				reload = true
			}
		}
	}
	dir, base := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	for _, r := range st.rules[dir] {
		if !r.match(base) {
			continue
		}
		if r.extra != "" {
			extra = append(extra, r.extra)
		} else {
			reload = true
		}
	}
	return reload, extra
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
