package gatewayapi

import (
	"strings"

	"github.com/portcullis/portcullis/internal/diag"
)

// derivedFrom says which Gateway API object and field a derived Istio object or Secret
// stands for, to report findings about it on the object the user wrote.
type derivedFrom struct {
	kind     string // "" for Gateway
	ns, name string // the Gateway (or route)
	field    string // its listener: "spec.listeners[i]"
	what     string // prefix of the message, naming the derived object's role
}

func (t *translator) derived(kind, ns, name string, d derivedFrom) {
	if t.origin == nil {
		t.origin = map[string]derivedFrom{}
	}
	t.origin[kind+"/"+ns+"/"+name] = d
}

// Attribute rewrites findings about derived objects (the translator's on derived Istio
// Gateways and VirtualServices, the credential store's on derived Secrets) into findings
// on the Gateway listener they came from; others are returned unchanged.
func (r Result) Attribute(ds []diag.Diagnostic) []diag.Diagnostic {
	if len(r.origin) == 0 {
		return ds
	}
	out := make([]diag.Diagnostic, len(ds))
	for i, d := range ds {
		o, ok := r.origin[d.Kind+"/"+d.Namespace+"/"+d.Name]
		if !ok && d.Kind == "Secret" {
			o, ok = r.origin["Secret/"+d.Namespace+"/"+strings.TrimSuffix(d.Name, "-cacert")]
		}
		if ok {
			field := o.field
			if rest, cut := strings.CutPrefix(d.Field, "spec.servers[0]"); cut && d.Kind == "Gateway" {
				field += rest
			}
			kind := o.kind
			if kind == "" {
				kind = "Gateway"
			}
			d.Kind, d.Namespace, d.Name, d.Field = kind, o.ns, o.name, field
			d.Message = o.what + d.Message
		}
		out[i] = d
	}
	return out
}
