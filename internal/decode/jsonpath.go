package decode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// pathSeg is one step of a JSON path: an object key or an array index.
type pathSeg struct {
	key     string
	index   int
	isIndex bool
}

// frame is an open JSON object or array while walking tokens.
type frame struct {
	obj       bool
	key       string
	hasKey    bool
	expectKey bool
	idx       int
}

// segmentsAt returns the path of the JSON token that covers byte offset off in js: the key
// itself when off is on an object key, the value's path otherwise. protojson reports errors
// only as "line:column"; this recovers the field the user has to fix.
func segmentsAt(js []byte, off int) []pathSeg {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var stack []*frame
	path := func() []pathSeg {
		var segs []pathSeg
		for _, f := range stack {
			switch {
			case f.obj && f.hasKey:
				segs = append(segs, pathSeg{key: f.key})
			case !f.obj:
				segs = append(segs, pathSeg{index: f.idx, isIndex: true})
			}
		}
		return segs
	}
	advance := func() {
		if len(stack) == 0 {
			return
		}
		if top := stack[len(stack)-1]; top.obj {
			top.expectKey = true
		} else {
			top.idx++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return path()
		}
		end := int(dec.InputOffset())
		delim, isDelim := tok.(json.Delim)
		if isDelim && (delim == '}' || delim == ']') {
			if end > off {
				return path()
			}
			stack = stack[:len(stack)-1]
			advance()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].expectKey {
			top := stack[n-1]
			top.key, _ = tok.(string)
			top.hasKey, top.expectKey = true, false
			if end > off {
				return path()
			}
			continue
		}
		if end > off {
			return path()
		}
		if isDelim {
			stack = append(stack, &frame{obj: delim == '{', expectKey: delim == '{'})
			continue
		}
		advance()
	}
}

// fieldAt resolves segs against md, returning the field descriptor the path ends at (for a
// map entry, the map's value field), or nil if the path leaves the schema.
func fieldAt(md protoreflect.MessageDescriptor, segs []pathSeg) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for _, s := range segs {
		switch {
		case s.isIndex:
			if fd == nil || !fd.IsList() {
				return nil
			}
			continue
		case fd != nil && fd.IsMap():
			fd = fd.MapValue()
		default:
			if md == nil {
				return nil
			}
			fields := md.Fields()
			f := fields.ByJSONName(s.key)
			if f == nil {
				f = fields.ByTextName(s.key)
			}
			if f == nil {
				return nil
			}
			fd = f
		}
		md = fd.Message()
	}
	return fd
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// renderPath renders segs as ".servers[0].tls.mode"; odd keys are quoted: `.headers["x-a"]`.
func renderPath(segs []pathSeg) string {
	var b strings.Builder
	for _, s := range segs {
		switch {
		case s.isIndex:
			fmt.Fprintf(&b, "[%d]", s.index)
		case plainKeyRE.MatchString(s.key):
			b.WriteString(".")
			b.WriteString(s.key)
		default:
			fmt.Fprintf(&b, "[%q]", s.key)
		}
	}
	return b.String()
}
