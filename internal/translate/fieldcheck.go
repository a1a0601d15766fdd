package translate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/portcullis/portcullis/internal/translate/fieldspec"
)

// rejectedFields reports every field set in m (recursively) whose fieldspec declaration is
// Rejected, as an error at base + the field's JSON path, with the declared reason. The
// declarations thus drive translation: a field declared Rejected can never be silently
// accepted, and a declaration cannot claim less than the translator does. Well-known types
// (google.protobuf.*) are leaves. Returns whether any was found.
func rejectedFields(rf *findings, base string, m protoreflect.Message) bool {
	type set struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fields []set
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fields = append(fields, set{fd, v})
		return true
	})
	// Range's order is undefined; diagnostics follow field numbers.
	sort.Slice(fields, func(i, j int) bool { return fields[i].fd.Number() < fields[j].fd.Number() })
	found := false
	for _, s := range fields {
		fd, v := s.fd, s.v
		field := base + "." + fd.JSONName()
		if r, ok := fieldspec.Lookup(m.Descriptor().FullName(), string(fd.Name())); ok && r.Status == fieldspec.Rejected {
			if emptyMessage(fd, v) {
				continue // "trafficPolicy: {}" asks for nothing
			}
			rf.errorf(field, "%s", r.Reason)
			found = true
			continue
		}
		md := fd.Message()
		if fd.IsMap() {
			md = fd.MapValue().Message()
		}
		if md == nil || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
			continue
		}
		switch {
		case fd.IsMap():
			var keys []string
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k.String())
				return true
			})
			sort.Strings(keys)
			for _, k := range keys {
				mv := v.Map().Get(protoreflect.ValueOfString(k).MapKey())
				found = rejectedFields(rf, fmt.Sprintf("%s[%s]", field, quoteKey(k)), mv.Message()) || found
			}
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				found = rejectedFields(rf, fmt.Sprintf("%s[%d]", field, i), l.Get(i).Message()) || found
			}
		default:
			found = rejectedFields(rf, field, v.Message()) || found
		}
	}
	return found
}

// rejectedTopLevel reports the set top-level fields of spec whose declaration is Rejected,
// skipping the named fields (checked elsewhere, rule by rule).
func rejectedTopLevel(rf *findings, spec protoreflect.Message, skip ...string) {
	fs := spec.Descriptor().Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		if !spec.Has(fd) || slices.Contains(skip, string(fd.Name())) {
			continue
		}
		if r, ok := fieldspec.Lookup(spec.Descriptor().FullName(), string(fd.Name())); ok && r.Status == fieldspec.Rejected {
			rf.errorf("spec."+fd.JSONName(), "%s; not served", r.Reason)
		}
	}
}

// emptyMessage: a singular message field present but with nothing set in it.
func emptyMessage(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	return fd.Message() != nil && !fd.IsList() && !fd.IsMap() && proto.Size(v.Message().Interface()) == 0
}
