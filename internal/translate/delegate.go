package translate

import (
	"fmt"
	"maps"
	"strings"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
)

// Delegation (HTTPRoute.delegate) as Istio's MergedVirtualServices does it: a rule of a
// root VirtualService (bound to the gateway) that delegates is replaced by the rules of the
// child VirtualService (one without hosts), each merged with it: the child's matches must
// each fall within one of the root rule's matches and are merged with it
// (mergeHTTPMatchRequest), and the root rule's policies fill what the child leaves unset
// (mergeHTTPRoute). The child must be exported to the root's namespace.
//
// Where Istio drops silently, portcullis fails closed, loudly: a missing or hidden child
// keeps the root rule in place answering 500 for its matches; a child rule whose matches
// conflict with the root's is an error on the child and is kept, with its own matches,
// answering 500.

func (t *translator) delegate(f *findings, root *resources.VirtualService, base string, i int, r *networking.HTTPRoute) []*compiledRoute {
	d := r.Delegate
	ns := d.Namespace
	if ns == "" {
		ns = root.Namespace
	}
	key := ns + "/" + d.Name
	child := t.idx.allVirtualServices[key]
	var why string
	switch {
	case len(r.Route) > 0 || r.Redirect != nil || r.DirectResponse != nil:
		why = "a rule with delegate must not also set route, redirect or directResponse"
	case d.Name == "":
		why = "delegate.name is required"
	case child == nil || child.Spec == nil:
		why = fmt.Sprintf("delegate VirtualService %s does not exist", key)
	case len(child.Spec.Hosts) > 0 || len(child.Spec.Gateways) > 0:
		why = fmt.Sprintf("VirtualService %s cannot be a delegate: it has hosts or gateways", key)
	case !t.visibleVS(child, root.Namespace):
		why = fmt.Sprintf("delegate VirtualService %s is not exported to namespace %s", key, root.Namespace)
	}
	if why != "" {
		var pre findings
		pre.errorf(base+".delegate", "%s", why)
		return t.compileRule(f, root, base, i, placeholder(r), pre)
	}
	var cf findings
	var out []*compiledRoute
	for j, cr := range child.Spec.Http {
		cbase := fmt.Sprintf("spec.http[%d]", j)
		if cr == nil {
			out = append(out, t.compileRule(&cf, child, cbase, j, nil, nil)...)
			continue
		}
		merged, conflict := mergeHTTPRoute(r, cr)
		if conflict {
			var pre findings
			pre.errorf(cbase+".match", "the matches conflict with those of the delegating rule %s %s (each must fall within one of them)", nsName(&root.Meta), base)
			out = append(out, t.compileRule(&cf, child, cbase, j, placeholder(cr), pre)...)
			continue
		}
		if merged.Delegate != nil {
			var pre findings
			pre.errorf(cbase+".delegate", "a delegate VirtualService cannot delegate again (Istio supports one level)")
			out = append(out, t.compileRule(&cf, child, cbase, j, placeholder(merged), pre)...)
			continue
		}
		out = append(out, t.compileRule(&cf, child, cbase, j, merged, nil)...)
	}
	for k := range cf {
		cf[k].msg = fmt.Sprintf("(delegated from %s %s) %s", nsName(&root.Meta), base, cf[k].msg)
	}
	t.report(kindVirtualService, &child.Meta, cf)
	return out
}

func (t *translator) visibleVS(vs *resources.VirtualService, to string) bool {
	return ValidateExportTo(vs.Spec.ExportTo) == nil && exportedTo(vs.Spec.ExportTo, t.opts.DefaultExportTo.VirtualService, vs.Namespace, to)
}

// placeholder is r reduced to its matches with a stand-in action, for a rule that fails
// closed before its own action could be compiled.
func placeholder(r *networking.HTTPRoute) *networking.HTTPRoute {
	return &networking.HTTPRoute{Name: r.Name, Match: r.Match, DirectResponse: &networking.HTTPDirectResponse{Status: failClosedStatus}}
}

// mergeHTTPRoute merges a child rule with the delegating root rule (Istio's mergeHTTPRoute).
func mergeHTTPRoute(root, child *networking.HTTPRoute) (*networking.HTTPRoute, bool) {
	out := proto.Clone(child).(*networking.HTTPRoute)
	ms, conflict := mergeMatches(root.Match, out.Match)
	if conflict {
		return nil, true
	}
	out.Match = ms
	out.Name = mergedName(root.Name, out.Name)
	inherit(&out.Rewrite, root.Rewrite)
	if len(out.Route) == 0 && out.Redirect == nil {
		inherit(&out.DirectResponse, root.DirectResponse)
	}
	inherit(&out.Timeout, root.Timeout)
	inherit(&out.Retries, root.Retries)
	inherit(&out.Fault, root.Fault)
	inherit(&out.Mirror, root.Mirror)
	inherit(&out.MirrorPercent, root.MirrorPercent) //nolint:staticcheck // deprecated, still merged by Istio
	inherit(&out.MirrorPercentage, root.MirrorPercentage)
	inherit(&out.CorsPolicy, root.CorsPolicy)
	if out.Mirrors == nil {
		out.Mirrors = root.Mirrors
	}
	inherit(&out.Headers, root.Headers)
	return out, false
}

// mergeMatches is Istio's mergeHTTPMatchRequests: every child match must merge with at
// least one root match it does not conflict with.
func mergeMatches(root, child []*networking.HTTPMatchRequest) ([]*networking.HTTPMatchRequest, bool) {
	if len(root) == 0 {
		return child, false
	}
	if len(child) == 0 {
		return root, false
	}
	var out []*networking.HTTPMatchRequest
	for _, c := range child {
		found := false
		for _, rm := range root {
			if rm == nil || c == nil || matchConflict(rm, c) {
				continue
			}
			out = append(out, mergeMatch(rm, c))
			found = true
		}
		if !found {
			return nil, true
		}
	}
	return out, len(out) == 0
}

func mergeMatch(root, child *networking.HTTPMatchRequest) *networking.HTTPMatchRequest {
	out := proto.Clone(child).(*networking.HTTPMatchRequest)
	out.Name = mergedName(root.Name, out.Name)
	inherit(&out.Uri, root.Uri)
	inherit(&out.Scheme, root.Scheme)
	inherit(&out.Method, root.Method)
	inherit(&out.Authority, root.Authority)
	out.Headers = mergeMaps(root.Headers, child.Headers)
	out.WithoutHeaders = mergeMaps(root.WithoutHeaders, child.WithoutHeaders)
	out.QueryParams = mergeMaps(root.QueryParams, child.QueryParams)
	if out.Port == 0 {
		out.Port = root.Port
	}
	out.SourceLabels = mergeMaps(root.SourceLabels, child.SourceLabels)
	if out.SourceNamespace == "" {
		out.SourceNamespace = root.SourceNamespace
	}
	if len(out.Gateways) == 0 {
		out.Gateways = root.Gateways
	}
	if out.StatPrefix == "" {
		out.StatPrefix = root.StatPrefix
	}
	return out
}

// mergedName is Istio's name of a merged rule or match: "root-child", or whichever is set.
func mergedName(root, child string) string {
	switch {
	case child == "":
		return root
	case root != "":
		return root + "-" + child
	}
	return child
}

// inherit sets *dst to v when the child left it unset.
func inherit[T any](dst **T, v *T) {
	if *dst == nil {
		*dst = v
	}
}

// mergeMaps: the child's entries win (Istio's maps.MergeCopy).
func mergeMaps[V any](root, child map[string]V) map[string]V {
	if len(root) == 0 && len(child) == 0 {
		return nil
	}
	out := maps.Clone(root)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, child)
	return out
}

// matchConflict is Istio's hasConflict: the child match does not fall within the root's.
func matchConflict(root, leaf *networking.HTTPMatchRequest) bool {
	pairs := [][2]*networking.StringMatch{{root.Uri, leaf.Uri}, {root.Scheme, leaf.Scheme}, {root.Method, leaf.Method}, {root.Authority, leaf.Authority}}
	for _, p := range pairs {
		if stringMatchConflict(p[0], p[1]) {
			return true
		}
	}
	for _, m := range []struct {
		root, leaf map[string]*networking.StringMatch
	}{
		{root.Headers, leaf.Headers}, {root.WithoutHeaders, leaf.WithoutHeaders}, {root.QueryParams, leaf.QueryParams},
	} {
		for k, v := range m.leaf {
			if stringMatchConflict(m.root[k], v) {
				return true
			}
		}
	}
	switch {
	case root.IgnoreUriCase != leaf.IgnoreUriCase:
		return true
	case root.Port > 0 && leaf.Port > 0 && root.Port != leaf.Port:
		return true
	case root.SourceNamespace != "" && leaf.SourceNamespace != root.SourceNamespace:
		return true
	}
	for k, v := range leaf.SourceLabels {
		if rv, ok := root.SourceLabels[k]; ok && rv != v {
			return true
		}
	}
	if len(root.Gateways) > 0 && len(leaf.Gateways) > 0 {
		if len(root.Gateways) < len(leaf.Gateways) {
			return true
		}
		for _, g := range leaf.Gateways {
			if !containsString(root.Gateways, g) {
				return true
			}
		}
	}
	return false
}

// stringMatchConflict is Istio's stringMatchConflict.
func stringMatchConflict(root, leaf *networking.StringMatch) bool {
	if root == nil || leaf == nil {
		return false
	}
	if root.GetRegex() != "" && (leaf.GetRegex() != "" || leaf.GetPrefix() != "" || leaf.GetExact() != "") {
		return true
	}
	if leaf.GetRegex() != "" && (root.GetRegex() != "" || root.GetPrefix() != "" || root.GetExact() != "") {
		return true
	}
	if exact := root.GetExact(); exact != "" {
		return leaf.GetPrefix() != "" || leaf.GetExact() != exact
	}
	if prefix := root.GetPrefix(); prefix != "" {
		if p := leaf.GetPrefix(); p != "" {
			return !strings.HasPrefix(p, prefix)
		}
		if e := leaf.GetExact(); e != "" {
			return !strings.HasPrefix(e, prefix)
		}
	}
	return true
}
