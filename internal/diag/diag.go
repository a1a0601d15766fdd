package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Severity of a finding. Errors mean something was rejected (a document, a server, a route,
// a credential); warnings mean it was accepted but probably not what the user meant.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Diagnostic is one finding about one resource. Kind/Namespace/Name name the resource,
// File/Index where it came from (empty for resources from the Kubernetes API), Field the
// offending field path (e.g. "spec.servers[1].tls.credentialName"), Message the reason.
type Diagnostic struct {
	Severity  Severity `json:"severity"`
	Kind      string   `json:"kind,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name,omitempty"`
	File      string   `json:"file,omitempty"`
	Index     int      `json:"index,omitempty"` // 0-based document index within File
	Field     string   `json:"field,omitempty"`
	Message   string   `json:"message"`
}

// String renders the diagnostic as one human-readable line, e.g.
// `error: foocorp/gw.yaml#0 Gateway default/foocorp-gateway spec.servers[1].tls.credentialName: secret "x" not found`.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(string(d.Severity))
	b.WriteString(":")
	if d.File != "" {
		fmt.Fprintf(&b, " %s#%d", d.File, d.Index)
	}
	if d.Kind != "" {
		b.WriteString(" ")
		b.WriteString(d.Kind)
	}
	if d.Name != "" {
		b.WriteString(" ")
		if d.Namespace != "" {
			b.WriteString(d.Namespace)
			b.WriteString("/")
		}
		b.WriteString(d.Name)
	}
	if d.Field != "" {
		b.WriteString(" ")
		b.WriteString(d.Field)
	}
	b.WriteString(": ")
	b.WriteString(d.Message)
	return b.String()
}

// Sort orders diagnostics by file and document index, keeping the order they were found in
// otherwise (that order follows the resource, e.g. servers[2] before servers[10]).
// Diagnostics without a file (Kubernetes objects, credentials) come first.
func Sort(ds []Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Index < b.Index
	})
}

// HasErrors reports whether any diagnostic is an error.
func HasErrors(ds []Diagnostic) bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}
