package translate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/resources"
)

// gatewayInfo is a Gateway that applies to this gateway workload, with its accepted servers.
type gatewayInfo struct {
	gw      *resources.Gateway
	key     string        // "ns/name"
	servers []*serverInfo // accepted servers, in spec order
	index   *hostIndex    // of servers' hosts, built by hostIndex
}

// gatewaySet is the selected Gateways in conflict order.
type gatewaySet struct {
	list  []*gatewayInfo
	byKey map[string]*gatewayInfo
}

// selectGateways keeps the Gateways whose selector is a subset of our labels.
func (t *translator) selectGateways() *gatewaySet {
	set := &gatewaySet{byKey: map[string]*gatewayInfo{}}
	for _, g := range t.idx.gateways {
		if g.Spec == nil {
			t.errorf(kindGateway, &g.Meta, "spec", "Gateway has no spec; ignored")
			continue
		}
		sel := g.Spec.GetSelector()
		if len(sel) == 0 {
			t.warnf(kindGateway, &g.Meta, "spec.selector",
				"empty selector matches every gateway workload, including this one (labels %s)", formatLabels(t.opts.Labels))
		} else if !subset(sel, t.opts.Labels) {
			t.warnf(kindGateway, &g.Meta, "spec.selector",
				"selector %s does not match this gateway's labels %s; Gateway ignored", formatLabels(sel), formatLabels(t.opts.Labels))
			continue
		}
		gi := &gatewayInfo{gw: g, key: nsName(&g.Meta)}
		set.list = append(set.list, gi)
		set.byKey[gi.key] = gi
	}
	return set
}

// subset reports whether every key=value of sel is in labels.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// formatLabels renders labels as {a=b, c=d} in key order.
func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%s", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// resolveGatewayRef turns a VirtualService gateways[] entry into "ns/name" as Istio does:
// "name" (the VirtualService's namespace), "ns/name", "./name", or the legacy
// "name.ns[.svc.cluster.local]". ok is false for "mesh".
func resolveGatewayRef(ref, vsNamespace string) (key string, ok bool) {
	if ref == "mesh" || ref == "" {
		return "", false
	}
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		ns := ref[:i]
		if ns == "." {
			ns = vsNamespace
		}
		return ns + "/" + ref[i+1:], true
	}
	if i := strings.IndexByte(ref, '.'); i >= 0 {
		name, rest := ref[:i], ref[i+1:]
		if j := strings.IndexByte(rest, '.'); j >= 0 {
			rest = rest[:j]
		}
		return rest + "/" + name, true
	}
	return vsNamespace + "/" + ref, true
}
