package file

import (
	"slices"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// keptMessage is the warning added when a file's last good version stands in for it.
const keptMessage = "the file has errors: its objects are kept as last loaded without errors until it is fixed"

// decoded returns what the file at path contributes to the bundle. The Watcher passes the
// previous load's clean versions in l.prev: when the new content of a file has errors
// (invalid YAML, a bad field), the objects of its last clean version stay in force, with
// the new errors and a warning as diagnostics. A broken edit is then an invalid update
// that is reported, like a credential that does not parse, not a deletion of everything
// the file held (which, for a Secret, would revoke a certificate and fail its hosts).
// Removing the file still removes its objects. Load (one-shot, validate) has no l.prev.
func (l *loader) decoded(path string, b *resources.Bundle) *resources.Bundle {
	if !hasErrors(b.Diagnostics) {
		l.out.good[path] = b
		return b
	}
	old, ok := l.prev[path]
	if !ok {
		return b
	}
	l.out.good[path] = old
	kept := *old
	kept.Diagnostics = append(slices.Clone(b.Diagnostics),
		diag.Diagnostic{Severity: diag.Warning, File: path, Message: keptMessage})
	return &kept
}

func hasErrors(ds []diag.Diagnostic) bool {
	for _, d := range ds {
		if d.Severity == diag.Error {
			return true
		}
	}
	return false
}
