package decode

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	k8sjson "sigs.k8s.io/json"
)

// fieldError is one problem at one field path (empty Field: the document as a whole).
type fieldError struct {
	Field   string
	Message string
}

// strictUnmarshal decodes js into v the way the Kubernetes API server does in strict mode:
// case-sensitive field names, unknown and duplicate fields rejected. It returns one
// fieldError per problem, or nil.
func strictUnmarshal(js []byte, v any) []fieldError {
	strictErrs, err := k8sjson.UnmarshalStrict(js, v)
	if err != nil {
		return []fieldError{describeJSONError(err)}
	}
	var out []fieldError
	for _, se := range strictErrs {
		var fe k8sjson.FieldError
		if !errors.As(se, &fe) {
			out = append(out, fieldError{Message: se.Error()})
			continue
		}
		path := fe.FieldPath()
		// Error() reads `unknown field "spec.ports[0].prot"`; we report the field path in
		// Field and only the offending key in Message.
		kind, _, _ := strings.Cut(se.Error(), " \"")
		out = append(out, fieldError{Field: path, Message: fmt.Sprintf("%s %q", kind, lastSegment(path))})
	}
	return out
}

// describeJSONError turns an encoding/json error into a field path and a readable reason.
func describeJSONError(err error) fieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fieldError{Field: te.Field, Message: fmt.Sprintf("wrong type: got %s, want %s", te.Value, typeName(te.Type))}
	}
	return fieldError{Message: strings.TrimPrefix(err.Error(), "json: ")}
}

// typeName names a Go type in the user's (JSON) words.
func typeName(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64 string"
		}
		return "list"
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	default:
		return t.Kind().String()
	}
}

// lastSegment returns the last key of a dotted path, without any trailing [index].
func lastSegment(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.Index(path, "["); i > 0 {
		path = path[:i]
	}
	return path
}
