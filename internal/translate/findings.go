package translate

import (
	"fmt"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// finding is a diagnostic before it is attached to a resource: validation helpers collect
// findings so callers can decide, from all of them, whether to reject the object.
type finding struct {
	sev   diag.Severity
	field string
	msg   string
}

type findings []finding

func (f *findings) errorf(field, format string, args ...any) {
	*f = append(*f, finding{sev: diag.Error, field: field, msg: fmt.Sprintf(format, args...)})
}

func (f *findings) warnf(field, format string, args ...any) {
	*f = append(*f, finding{sev: diag.Warning, field: field, msg: fmt.Sprintf(format, args...)})
}

func (f findings) hasError() bool {
	for _, x := range f {
		if x.sev == diag.Error {
			return true
		}
	}
	return false
}

// report attaches findings to the Istio object identified by kind and m.
func (t *translator) report(kind string, m *resources.Meta, fs findings) {
	for _, x := range fs {
		t.diags = append(t.diags, diag.Diagnostic{
			Severity:  x.sev,
			Kind:      kind,
			Namespace: m.Namespace,
			Name:      m.Name,
			File:      m.Source.File,
			Index:     m.Source.Index,
			Field:     x.field,
			Message:   x.msg,
		})
	}
}

func (t *translator) errorf(kind string, m *resources.Meta, field, format string, args ...any) {
	var f findings
	f.errorf(field, format, args...)
	t.report(kind, m, f)
}

func (t *translator) warnf(kind string, m *resources.Meta, field, format string, args ...any) {
	var f findings
	f.warnf(field, format, args...)
	t.report(kind, m, f)
}

// Kinds, as they appear in diagnostics.
const (
	kindGateway         = "Gateway"
	kindVirtualService  = "VirtualService"
	kindDestinationRule = "DestinationRule"
	kindServiceEntry    = "ServiceEntry"
)

// before is the conflict order of Istio objects: oldest first, then file position, then
// namespace/name. The earlier object wins a conflict.
func before(a, b *resources.Meta) bool {
	if a.CreationTimestamp != b.CreationTimestamp {
		return a.CreationTimestamp < b.CreationTimestamp
	}
	if a.Source.File != b.Source.File {
		return a.Source.File < b.Source.File
	}
	if a.Source.Index != b.Source.Index {
		return a.Source.Index < b.Source.Index
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

func nsName(m *resources.Meta) string { return m.Namespace + "/" + m.Name }

// where renders an object's origin for messages naming a second object ("defined at f#2").
func where(m *resources.Meta) string {
	if m.Source.File == "" {
		return ""
	}
	return fmt.Sprintf(" (%s#%d)", m.Source.File, m.Source.Index)
}
