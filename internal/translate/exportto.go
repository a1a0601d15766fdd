package translate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/portcullis/portcullis/internal/resources"
)

// ExportDefaults are the mesh-wide exportTo defaults for objects that set none, as Istio's
// meshConfig defaultVirtualServiceExportTo, defaultDestinationRuleExportTo and
// defaultServiceExportTo. Empty means ["*"] (Istio's default).
type ExportDefaults struct {
	VirtualService  []string
	DestinationRule []string
	ServiceEntry    []string
}

// ValidateExportTo checks an exportTo list as Istio's validation does: ".", "*", "~" or
// namespace names; "~" alone; no duplicates.
func ValidateExportTo(list []string) error {
	seen := map[string]bool{}
	for _, e := range list {
		switch {
		case seen[e]:
			return fmt.Errorf("duplicate entry %q", e)
		case e == "~" && len(list) > 1:
			return fmt.Errorf(`"~" (export nowhere) cannot be combined with other entries`)
		case e == "." || e == "*" || e == "~":
		default:
			if errs := validation.IsDNS1123Label(e); len(errs) > 0 {
				return fmt.Errorf("%q is not \".\", \"*\", \"~\" or a namespace name", e)
			}
		}
		seen[e] = true
	}
	return nil
}

// exportedTo reports whether an object in namespace ns with exportTo list (defaults when
// empty) is visible in namespace to: "*" everywhere, "." (or ns itself) in ns, a
// namespace name there, "~" nowhere.
func exportedTo(list, defaults []string, ns, to string) bool {
	if len(list) == 0 {
		list = defaults
	}
	if len(list) == 0 {
		return true
	}
	for _, e := range list {
		switch e {
		case "*":
			return true
		case ".":
			if ns == to {
				return true
			}
		case "~":
		default:
			if e == to {
				return true
			}
		}
	}
	return false
}

// visible applies exportTo to an object of kind for this gateway (in t.opts.Namespace),
// reporting an invalid list as an error (the object is then not visible: fail closed).
func (t *translator) visible(kind string, m *resources.Meta, list, defaults []string) bool {
	if err := ValidateExportTo(list); err != nil {
		t.errorf(kind, m, "spec.exportTo", "%v; the %s is not used", err, kind)
		return false
	}
	return exportedTo(list, defaults, m.Namespace, t.opts.Namespace)
}
