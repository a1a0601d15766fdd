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

// gatewayAPIVersions: the versions the standard channel CRDs of v1.6 serve, per kind. Each
// is decoded into the v1 type (the served schemas are identical).
var gatewayAPIVersions = map[string]map[string]bool{
	"GatewayClass":     {"v1": true, "v1beta1": true},
	"Gateway":          {"v1": true, "v1beta1": true},
	"HTTPRoute":        {"v1": true, "v1beta1": true},
	"ReferenceGrant":   {"v1": true, "v1beta1": true},
	"GRPCRoute":        {"v1": true},
	"TLSRoute":         {"v1": true},
	"TCPRoute":         {"v1": true},
	"BackendTLSPolicy": {"v1": true},
}

// decodeGatewayAPI decodes one gateway.networking.k8s.io document strictly.
func (d *docDecoder) decodeGatewayAPI(js []byte, tm typeMeta, version string) {
	versions, known := gatewayAPIVersions[tm.Kind]
	switch {
	case !known:
		d.add(diag.Error, tm, "", fmt.Sprintf("kind %s %s is not supported by portcullis (supported: GatewayClass, Gateway, HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, ReferenceGrant, BackendTLSPolicy); ignored", tm.APIVersion, tm.Kind))
		return
	case !versions[version]:
		d.add(diag.Error, tm, "apiVersion", fmt.Sprintf("%s %s is not served by the standard channel of gateway-api v1.6; ignored", tm.APIVersion, tm.Kind))
		return
	}
	g := &d.bundle.GatewayAPI
	src := d.source()
	switch tm.Kind {
	case "GatewayClass":
		var o gwv1.GatewayClass
		if d.gwStrict(js, &o, &o.ObjectMeta, tm, true) {
			g.GatewayClasses = append(g.GatewayClasses, resources.GatewayClass{Source: src, GatewayClass: &o})
		}
	case "Gateway":
		var o gwv1.Gateway
		if d.gwStrict(js, &o, &o.ObjectMeta, tm, false) {
			g.Gateways = append(g.Gateways, resources.KubeGateway{Source: src, Gateway: &o})
		}
	case "HTTPRoute":
		var o gwv1.HTTPRoute
		if d.gwStrict(js, &o, &o.ObjectMeta, tm, false) {
			g.HTTPRoutes = append(g.HTTPRoutes, resources.HTTPRoute{Source: src, HTTPRoute: &o})
		}
	case "GRPCRoute":
		var o gwv1.GRPCRoute
		if d.gwStrict(js, &o, &o.ObjectMeta, tm, false) {
			g.GRPCRoutes = append(g.GRPCRoutes, resources.GRPCRoute{Source: src, GRPCRoute: &o})
		}
	case "TLSRoute":
		var o gwv1.TLSRoute
		if d.gwStrict(js, &o, &o.ObjectMeta, tm, false) {
			g.TLSRoutes = append(g.TLSRoutes, resources.TLSRoute{Source: src, TLSRoute: &o})
		}
	case "TCPRoute":
		var o gwv1.TCPRoute
		if d.gwStrict(js, &o, &o.ObjectMeta, tm, false) {
			g.TCPRoutes = append(g.TCPRoutes, resources.TCPRoute{Source: src, TCPRoute: &o})
		}
	case "ReferenceGrant":
		var o gwv1.ReferenceGrant
		if d.gwStrict(js, &o, &o.ObjectMeta, tm, false) {
			g.ReferenceGrants = append(g.ReferenceGrants, resources.ReferenceGrant{Source: src, ReferenceGrant: &o})
		}
	case "BackendTLSPolicy":
		var o gwv1.BackendTLSPolicy
		if d.gwStrict(js, &o, &o.ObjectMeta, tm, false) {
			g.BackendTLSPolicies = append(g.BackendTLSPolicies, resources.BackendTLSPolicy{Source: src, BackendTLSPolicy: &o})
		}
	}
}

// gwStrict decodes strictly and checks the metadata; cluster-scoped kinds keep an empty
// namespace. The status, if any, is dropped: it is ours to compute.
func (d *docDecoder) gwStrict(js []byte, v any, om *metav1.ObjectMeta, tm typeMeta, cluster bool) bool {
	if !d.strict(js, v, tm) {
		return false
	}
	if cluster {
		if om.Name == "" {
			d.add(diag.Error, tm, "metadata.name", "name is required")
			return false
		}
		om.Namespace = ""
		return true
	}
	return d.checkMeta(om, tm)
}

// decodeConfigMap decodes a v1 ConfigMap (CA bundles of Gateway API frontend validation).
func (d *docDecoder) decodeConfigMap(js []byte, tm typeMeta) {
	var c corev1.ConfigMap
	if !d.strict(js, &c, tm) || !d.checkMeta(&c.ObjectMeta, tm) {
		return
	}
	d.bundle.ConfigMaps = append(d.bundle.ConfigMaps, resources.ConfigMap{Source: d.source(), ConfigMap: &c})
}
