package fieldspec

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field is one field reached by Walk: the message declaring it, its descriptor, its path
// from the root kind in JSON names ("VirtualService.http.match.headers") and its
// declaration (ok=false: undeclared).
type Field struct {
	Kind    string
	Message protoreflect.FullName
	Desc    protoreflect.FieldDescriptor
	Path    string
	Rule    Rule
	ok      bool
}

// Declared reports whether the field has a declaration.
func (f Field) Declared() bool { return f.ok }

// Walk visits every field reachable from the registered roots, depth first in field
// number order, each message once per root (its first path). It follows message-typed
// fields, list elements and map values; google.protobuf well-known types are leaves. It
// does not descend into a field declared Rejected: setting it is an error whatever it holds.
func Walk(visit func(Field)) {
	for _, r := range Roots() {
		seen := map[protoreflect.FullName]bool{}
		walk(r.Kind, r.Spec, r.Kind, seen, visit)
	}
}

func walk(kind string, md protoreflect.MessageDescriptor, path string, seen map[protoreflect.FullName]bool, visit func(Field)) {
	if seen[md.FullName()] {
		return
	}
	seen[md.FullName()] = true
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		rule, ok := Lookup(md.FullName(), string(fd.Name()))
		p := path + "." + fd.JSONName()
		visit(Field{Kind: kind, Message: md.FullName(), Desc: fd, Path: p, Rule: rule, ok: ok})
		if ok && rule.Status == Rejected {
			continue
		}
		next := fd.Message()
		if fd.IsMap() {
			next = fd.MapValue().Message()
		}
		if next != nil && next.ParentFile().Package() != "google.protobuf" {
			walk(kind, next, p, seen, visit)
		}
	}
}

// Stale returns declarations naming fields their message does not have, as
// "message.field", sorted. resolve finds a message descriptor by full name.
func Stale(resolve func(protoreflect.FullName) protoreflect.MessageDescriptor) []string {
	var out []string
	for name, m := range messages {
		md := resolve(name)
		for f := range m {
			if md == nil || md.Fields().ByName(protoreflect.Name(f)) == nil {
				out = append(out, string(name)+"."+f)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Table renders every reachable field as a Markdown table (one per root kind): field path,
// status, reason.
func Table() string {
	var b strings.Builder
	kind := ""
	Walk(func(f Field) {
		if f.Kind != kind {
			kind = f.Kind
			fmt.Fprintf(&b, "\n### %s\n\n| field | portcullis | notes |\n|---|---|---|\n", kind)
		}
		status := "**undeclared**"
		if f.ok {
			status = f.Rule.Status.String()
		}
		path := strings.TrimPrefix(f.Path, kind+".")
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", path, status, strings.ReplaceAll(f.Rule.Reason, "|", "\\|"))
	})
	return strings.TrimPrefix(b.String(), "\n")
}
