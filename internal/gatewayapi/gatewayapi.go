package gatewayapi

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/status"
)

// DefaultControllerName is the GatewayClass controllerName portcullis owns by default.
const DefaultControllerName = "portcullis.io/gateway-controller"

// Group is the Gateway API group.
const Group = gwv1.GroupName

// Options of a translation.
type Options struct {
	// ControllerName: GatewayClasses with this spec.controllerName are ours, and so are
	// the Gateways of those classes. Default DefaultControllerName.
	ControllerName string
	// Namespace is the gateway workload's namespace: the derived credential Secrets are
	// placed there (the translator resolves credentialName there). Default istio-system.
	Namespace string
	// Labels of the gateway workload: the selector of the derived Istio Gateways.
	Labels map[string]string
	// AddressPool: when valid, each Gateway without spec.addresses binds an address of
	// this prefix of its own (addresses.go). Zero: Gateways share the listen host.
	AddressPool netip.Prefix
	// PublishAddresses: status.addresses of Gateways that bind no address of their own
	// (IPs or hostnames where the shared listen host is reachable).
	PublishAddresses []string
}

func (o Options) withDefaults() Options {
	if o.ControllerName == "" {
		o.ControllerName = DefaultControllerName
	}
	if o.Namespace == "" {
		o.Namespace = "istio-system"
	}
	if len(o.Labels) == 0 {
		o.Labels = map[string]string{"istio": "ingressgateway"}
	}
	return o
}

// Result of a translation.
type Result struct {
	// Bundle is the input plus the derived Istio Gateways, VirtualServices and Secrets and
	// the Gateway API diagnostics. It is the input itself when there is no Gateway API
	// object; otherwise a copy (the input is never modified).
	Bundle *resources.Bundle
	// Status of every GatewayClass, Gateway and route of ours, sorted by kind,
	// namespace, name.
	Status []status.Update
	// HTTP2Hosts: "host:port" of destinations GRPCRoutes send to; their clusters need an
	// HTTP/2 upstream (snapshot.UpstreamHTTP2).
	HTTP2Hosts map[string]bool

	origin map[string]derivedFrom // "Kind/ns/name" of derived objects (attribute.go)
}

// Translate derives the Istio objects and the status for the Gateway API objects of b.
func Translate(b *resources.Bundle, o Options) Result {
	if b == nil || b.GatewayAPI.Empty() {
		return Result{Bundle: b}
	}
	o = o.withDefaults()
	nb := *b
	nb.Gateways = slices.Clip(b.Gateways)
	nb.VirtualServices = slices.Clip(b.VirtualServices)
	nb.Secrets = slices.Clip(b.Secrets)
	nb.Diagnostics = slices.Clip(b.Diagnostics)
	nb.DestinationRules = slices.Clip(b.DestinationRules)
	t := &translator{opts: o, in: b, out: &nb, http2: map[string]bool{}}
	t.index()
	t.classes()
	t.gateways()
	t.frontends() // before conflicts: a listener refused for its CA claims no hostname
	t.conflicts()
	t.backendTLSPolicies()
	t.translateRoutes()
	t.emit()
	return Result{Bundle: &nb, Status: t.statuses(), HTTP2Hosts: t.http2, origin: t.origin}
}

// translator is the state of one Translate call.
type translator struct {
	opts Options
	in   *resources.Bundle
	out  *resources.Bundle

	ourClasses map[string]*resources.GatewayClass
	gws        []*gateway // ours, in precedence order (oldest first, then ns/name)
	gwByKey    map[string]*gateway
	secrets    map[string]map[string][]byte // ns/name -> data
	configMaps map[string]map[string]string
	services   map[string]*resources.Service // ns/name
	grants     []*resources.ReferenceGrant

	routes []*route
	http2  map[string]bool
	// btls: BackendTLSPolicies by "ns/service|sectionName", the applying one first;
	// btlsAll: every policy (backendtls.go).
	btls    map[string][]*btlsPolicy
	btlsAll []*btlsPolicy
	// termHosts: the TLSRoute hostnames of a Terminate listener that need a server of
	// their own (l4.go).
	termHosts map[*listener][]string
	// vs: derived VirtualServices by key (istio gateway key + "|" + host).
	vs    map[string]*vsBuild
	vsKey []string
	// origin of every derived object (attribute.go)
	origin map[string]derivedFrom
}

func (t *translator) index() {
	t.gwByKey = map[string]*gateway{}
	t.secrets = map[string]map[string][]byte{}
	for _, s := range t.in.Secrets {
		k := s.Namespace + "/" + s.Name
		if _, dup := t.secrets[k]; !dup {
			t.secrets[k] = s.Data
		}
	}
	t.configMaps = map[string]map[string]string{}
	for _, c := range t.in.ConfigMaps {
		k := c.Namespace + "/" + c.Name
		if _, dup := t.configMaps[k]; !dup {
			t.configMaps[k] = c.Data
		}
	}
	t.services = map[string]*resources.Service{}
	for i := range t.in.Services {
		s := &t.in.Services[i]
		k := s.Namespace + "/" + s.Name
		if _, dup := t.services[k]; !dup {
			t.services[k] = s
		}
	}
	for i := range t.in.GatewayAPI.ReferenceGrants {
		t.grants = append(t.grants, &t.in.GatewayAPI.ReferenceGrants[i])
	}
}

// classes keeps the GatewayClasses of our controller.
func (t *translator) classes() {
	t.ourClasses = map[string]*resources.GatewayClass{}
	for i := range t.in.GatewayAPI.GatewayClasses {
		c := &t.in.GatewayAPI.GatewayClasses[i]
		if string(c.Spec.ControllerName) != t.opts.ControllerName {
			continue
		}
		if _, dup := t.ourClasses[c.Name]; dup {
			t.diag(diag.Error, "GatewayClass", &c.ObjectMeta, c.Source, "metadata.name", "GatewayClass %s is defined twice; the first definition is used", c.Name)
			continue
		}
		t.ourClasses[c.Name] = c
		if c.Spec.ParametersRef != nil {
			t.diag(diag.Warning, "GatewayClass", &c.ObjectMeta, c.Source, "spec.parametersRef", "parametersRef is not supported (portcullis has no class parameters); ignored")
		}
	}
}

// nsLabels are the labels of namespace ns: its Namespace object's, plus the
// kubernetes.io/metadata.name label the API server puts on every namespace (so a selector
// on the name works in file mode without Namespace objects).
func (t *translator) nsLabels(ns string) labels.Set {
	out := labels.Set{}
	for _, n := range t.in.GatewayAPI.Namespaces {
		if n.Name == ns {
			for k, v := range n.Labels {
				out[k] = v
			}
			break
		}
	}
	out[corev1.LabelMetadataName] = ns
	return out
}

// diag records a diagnostic on a Gateway API object.
func (t *translator) diag(sev diag.Severity, kind string, m *metav1.ObjectMeta, src resources.Source, field, format string, args ...any) {
	t.out.Diagnostics = append(t.out.Diagnostics, diag.Diagnostic{
		Severity: sev, Kind: kind, Namespace: m.Namespace, Name: m.Name,
		File: src.File, Index: src.Index, Field: field, Message: fmt.Sprintf(format, args...),
	})
}

// granted reports whether a ReferenceGrant in toNS lets objects of fromKind in fromNS
// refer to the object toGroup/toKind/toName.
func (t *translator) granted(fromKind, fromNS, toGroup, toKind, toNS, toName string) bool {
	if fromNS == toNS {
		return true
	}
	for _, g := range t.grants {
		if g.Namespace != toNS {
			continue
		}
		from := slices.ContainsFunc(g.Spec.From, func(f gwv1.ReferenceGrantFrom) bool {
			return string(f.Group) == Group && string(f.Kind) == fromKind && string(f.Namespace) == fromNS
		})
		if !from {
			continue
		}
		for _, to := range g.Spec.To {
			if string(to.Group) == toGroup && string(to.Kind) == toKind && (to.Name == nil || string(*to.Name) == toName) {
				return true
			}
		}
	}
	return false
}

// refParts applies a reference's defaults: the group, kind and namespace it names.
func refParts[G ~string, K ~string, N ~string](g *G, k *K, ns *N, defGroup, defKind, defNS string) (string, string, string) {
	if g != nil {
		defGroup = string(*g)
	}
	if k != nil {
		defKind = string(*k)
	}
	if ns != nil {
		defNS = string(*ns)
	}
	return defGroup, defKind, defNS
}

// objKey is "ns/name".
func objKey(m *metav1.ObjectMeta) string { return m.Namespace + "/" + m.Name }

// olderFirst orders objects as the Gateway API breaks ties: oldest creationTimestamp, then
// namespace/name alphabetically.
func olderFirst(a, b *metav1.ObjectMeta) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return objKey(a) < objKey(b)
}

// cond builds a condition.
func cond(typ string, ok bool, reason, msg string, gen int64) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen}
}

// SupportedFeatures are the Gateway API features (sigs.k8s.io/gateway-api/pkg/features
// names) a GatewayClass of ours reports in status.supportedFeatures, sorted.
func SupportedFeatures() []gwv1.SupportedFeature {
	names := []string{
		"BackendTLSPolicy", "BackendTLSPolicySANValidation", "GRPCRoute", "GRPCRouteNamedRouteRule", "Gateway", "GatewayFrontendClientCertificateValidation",
		"GatewayPort8080", "HTTPRoute", "HTTPRoute303RedirectStatusCode", "HTTPRoute307RedirectStatusCode",
		"HTTPRoute308RedirectStatusCode", "HTTPRouteBackendRequestHeaderModification", "HTTPRouteBackendTimeout",
		"HTTPRouteCORS", "HTTPRouteHostRewrite", "HTTPRouteMethodMatching", "HTTPRouteNamedRouteRule",
		"HTTPRouteParentRefPort", "HTTPRoutePathRedirect", "HTTPRoutePathRewrite", "HTTPRoutePortRedirect",
		"HTTPRouteQueryParamMatching", "HTTPRouteRequestMirror", "HTTPRouteRequestMultipleMirrors",
		"HTTPRouteRequestPercentageMirror", "HTTPRouteRequestTimeout", "HTTPRouteResponseHeaderModification",
		"HTTPRouteSchemeRedirect", "ReferenceGrant", "TCPRoute", "TLSRoute", "TLSRouteModeMixed", "TLSRouteModeTerminate",
	}
	out := make([]gwv1.SupportedFeature, len(names))
	for i, n := range names {
		out[i] = gwv1.SupportedFeature{Name: gwv1.FeatureName(n)}
	}
	return out
}

// statuses assembles every update, sorted.
func (t *translator) statuses() []status.Update {
	var out []status.Update
	for _, c := range t.ourClasses {
		st := &gwv1.GatewayClassStatus{Conditions: []metav1.Condition{
			cond(string(gwv1.GatewayClassConditionStatusAccepted), true, string(gwv1.GatewayClassReasonAccepted), "handled by "+t.opts.ControllerName, c.Generation),
		}, SupportedFeatures: SupportedFeatures()}
		out = append(out, status.Update{Group: Group, Kind: "GatewayClass", Name: c.Name, Generation: c.Generation, UID: string(c.UID), Status: st})
	}
	for _, g := range t.gws {
		out = append(out, g.update())
	}
	for _, r := range t.routes {
		if u, ok := r.update(t.opts.ControllerName); ok {
			out = append(out, u)
		}
	}
	out = append(out, t.btlsUpdates()...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

// lower is strings.ToLower of a typed string.
func lower[S ~string](s S) string { return strings.ToLower(string(s)) }
