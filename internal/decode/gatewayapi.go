package decode

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// gatewayAPIGroup is the Kubernetes Gateway API group.
const gatewayAPIGroup = "gateway.networking.k8s.io"

// gatewayAPIVersions: the versions the standard channel CRDs of v1.6 serve for kind (nil:
// a kind portcullis does not read). Each is decoded into the v1 type (the served schemas
// are identical).
func gatewayAPIVersions(kind string) map[string]bool {
	switch kind {
	case "GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant":
		return map[string]bool{"v1": true, "v1beta1": true}
	case "GRPCRoute", "TLSRoute", "TCPRoute", "BackendTLSPolicy":
		return map[string]bool{"v1": true}
	}
	return nil
}

// decodeGatewayAPI decodes one gateway.networking.k8s.io document strictly.
func (d *docDecoder) decodeGatewayAPI(js []byte, tm typeMeta, version string) {
	versions := gatewayAPIVersions(tm.Kind)
	switch {
	case versions == nil:
		d.add(diag.Error, tm, "", fmt.Sprintf("kind %s %s is not supported by portcullis (supported: GatewayClass, Gateway, HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, ReferenceGrant, BackendTLSPolicy); ignored", tm.APIVersion, tm.Kind))
		return
	case !versions[version]:
		d.add(diag.Error, tm, "apiVersion", fmt.Sprintf("%s %s is not served by the standard channel of gateway-api v1.6; ignored", tm.APIVersion, tm.Kind))
		return
	}
	g := &d.bundle.GatewayAPI
	switch tm.Kind {
	case "GatewayClass":
		gwDecode(d, js, tm, true, func(s resources.Source, o *gwv1.GatewayClass) {
			g.GatewayClasses = append(g.GatewayClasses, resources.GatewayClass{Source: s, GatewayClass: o})
		})
	case "Gateway":
		gwDecode(d, js, tm, false, func(s resources.Source, o *gwv1.Gateway) {
			g.Gateways = append(g.Gateways, resources.KubeGateway{Source: s, Gateway: o})
		})
	case "HTTPRoute":
		gwDecode(d, js, tm, false, func(s resources.Source, o *gwv1.HTTPRoute) {
			g.HTTPRoutes = append(g.HTTPRoutes, resources.HTTPRoute{Source: s, HTTPRoute: o})
		})
	case "GRPCRoute":
		gwDecode(d, js, tm, false, func(s resources.Source, o *gwv1.GRPCRoute) {
			g.GRPCRoutes = append(g.GRPCRoutes, resources.GRPCRoute{Source: s, GRPCRoute: o})
		})
	case "TLSRoute":
		gwDecode(d, js, tm, false, func(s resources.Source, o *gwv1.TLSRoute) {
			g.TLSRoutes = append(g.TLSRoutes, resources.TLSRoute{Source: s, TLSRoute: o})
		})
	case "TCPRoute":
		gwDecode(d, js, tm, false, func(s resources.Source, o *gwv1.TCPRoute) {
			g.TCPRoutes = append(g.TCPRoutes, resources.TCPRoute{Source: s, TCPRoute: o})
		})
	case "ReferenceGrant":
		gwDecode(d, js, tm, false, func(s resources.Source, o *gwv1.ReferenceGrant) {
			g.ReferenceGrants = append(g.ReferenceGrants, resources.ReferenceGrant{Source: s, ReferenceGrant: o})
		})
	case "BackendTLSPolicy":
		gwDecode(d, js, tm, false, func(s resources.Source, o *gwv1.BackendTLSPolicy) {
			g.BackendTLSPolicies = append(g.BackendTLSPolicies, resources.BackendTLSPolicy{Source: s, BackendTLSPolicy: o})
		})
	}
}

// gwDecode decodes one object of type T strictly and checks its metadata (cluster-scoped
// kinds keep an empty namespace, others default it); keep receives it when valid. The
// status, if any, is decoded but never read: it is ours to compute.
func gwDecode[T any, P interface {
	*T
	metav1.Object
}](d *docDecoder, js []byte, tm typeMeta, cluster bool, keep func(resources.Source, P)) {
	o := P(new(T))
	if !d.strict(js, o, tm) {
		return
	}
	switch {
	case o.GetName() == "":
		d.add(diag.Error, tm, "metadata.name", "name is required")
		return
	case cluster:
		o.SetNamespace("")
	case o.GetNamespace() == "":
		o.SetNamespace(DefaultNamespace)
	}
	keep(d.source(), o)
}

// decodeConfigMap decodes a v1 ConfigMap (CA bundles of Gateway API frontend validation).
func (d *docDecoder) decodeConfigMap(js []byte, tm typeMeta) {
	var c corev1.ConfigMap
	if !d.strict(js, &c, tm) || !d.checkMeta(&c.ObjectMeta, tm) {
		return
	}
	d.bundle.ConfigMaps = append(d.bundle.ConfigMaps, resources.ConfigMap{Source: d.source(), ConfigMap: &c})
}
