package decode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

const durationName protoreflect.FullName = "google.protobuf.Duration"

// Istio decodes google.protobuf.Duration fields the way the JSON shims of istio.io/api do
// (github.com/golang/protobuf/jsonpb): with time.ParseDuration, so "500ms", "1m", "1h30m",
// "0.5s" and "10s" are all valid. protojson only takes "<seconds>s". normalizeDurations
// rewrites every Duration string of a spec into protojson's form before protojson sees it,
// so files decode exactly as the API server's objects do (internal/source/kube reads them
// through those shims). The JSON is re-encoded only when some value had to change, so error
// positions in specs without such durations are the original ones.

// normalizeDurations returns js with every Duration-typed string in Go syntax rewritten as
// protojson seconds. A string time.ParseDuration rejects is a field error.
func normalizeDurations(js []byte, md protoreflect.MessageDescriptor) ([]byte, *fieldError) {
	if !hasDurationField(md, map[protoreflect.FullName]bool{}) {
		return js, nil
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return js, nil // protojson reports the syntax error with its position
	}
	changed := false
	if fe := walkDurations(v, md, "spec", &changed); fe != nil {
		return nil, fe
	}
	if !changed {
		return js, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return js, nil
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// hasDurationField reports whether md reaches a Duration field.
func hasDurationField(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if m := fd.Message(); m != nil {
			if m.FullName() == durationName || hasDurationField(m, seen) {
				return true
			}
		}
	}
	return false
}

// walkDurations follows v along md (JSON names or proto names, as protojson accepts).
func walkDurations(v any, md protoreflect.MessageDescriptor, path string, changed *bool) *fieldError {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil // protojson reports the wrong type
	}
	fs := md.Fields()
	for k, val := range obj {
		fd := fs.ByJSONName(k)
		if fd == nil {
			fd = fs.ByName(protoreflect.Name(k))
		}
		if fd == nil {
			continue
		}
		fpath := path + "." + k
		switch {
		case fd.IsMap():
			vm := fd.MapValue().Message()
			m, ok := val.(map[string]any)
			if vm == nil || !ok {
				continue
			}
			for mk, mv := range m {
				nv, fe := durationValue(mv, vm, fmt.Sprintf("%s.%s", fpath, mk), changed)
				if fe != nil {
					return fe
				}
				m[mk] = nv
			}
		case fd.IsList():
			l, ok := val.([]any)
			if fd.Message() == nil || !ok {
				continue
			}
			for i, e := range l {
				nv, fe := durationValue(e, fd.Message(), fmt.Sprintf("%s[%d]", fpath, i), changed)
				if fe != nil {
					return fe
				}
				l[i] = nv
			}
		case fd.Message() != nil:
			nv, fe := durationValue(val, fd.Message(), fpath, changed)
			if fe != nil {
				return fe
			}
			obj[k] = nv
		}
	}
	return nil
}

func durationValue(v any, md protoreflect.MessageDescriptor, path string, changed *bool) (any, *fieldError) {
	if md.FullName() != durationName {
		return v, walkDurations(v, md, path, changed)
	}
	s, ok := v.(string)
	if !ok {
		return v, nil // protojson reports the wrong type
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, &fieldError{Field: path, Message: fmt.Sprintf(`invalid duration %q: want a duration such as "500ms", "10s", "1m" or "1h30m"`, s)}
	}
	out := protoSeconds(d)
	if out != s {
		*changed = true
	}
	return out, nil
}

// protoSeconds renders d as protojson's Duration form ("1.5s", "-0.000000001s").
func protoSeconds(d time.Duration) string {
	sign, u := "", uint64(d)
	if d < 0 {
		sign, u = "-", uint64(-(d+1))+1 // -MinInt64 overflows; this does not
	}
	sec, nsec := u/uint64(time.Second), u%uint64(time.Second)
	if nsec == 0 {
		return sign + strconv.FormatUint(sec, 10) + "s"
	}
	return fmt.Sprintf("%s%d.%09ds", sign, sec, nsec)
}
