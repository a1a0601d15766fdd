package resources

import (
	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Kubernetes Gateway API objects (gateway.networking.k8s.io, the standard channel of
// sigs.k8s.io/gateway-api v1.6). Every served version (v1, and v1beta1 where the CRDs still
// serve it) is decoded into the v1 types, whose schemas are the same. internal/gatewayapi
// translates them.

// GatewayClass is a gateway.networking.k8s.io GatewayClass (cluster-scoped).
type GatewayClass struct {
	Source Source
	*gwv1.GatewayClass
}

// KubeGateway is a gateway.networking.k8s.io Gateway (named so to tell it from Istio's).
type KubeGateway struct {
	Source Source
	*gwv1.Gateway
}

// HTTPRoute is a gateway.networking.k8s.io HTTPRoute.
type HTTPRoute struct {
	Source Source
	*gwv1.HTTPRoute
}

// GRPCRoute is a gateway.networking.k8s.io GRPCRoute.
type GRPCRoute struct {
	Source Source
	*gwv1.GRPCRoute
}

// TLSRoute is a gateway.networking.k8s.io TLSRoute.
type TLSRoute struct {
	Source Source
	*gwv1.TLSRoute
}

// TCPRoute is a gateway.networking.k8s.io TCPRoute.
type TCPRoute struct {
	Source Source
	*gwv1.TCPRoute
}

// ReferenceGrant is a gateway.networking.k8s.io ReferenceGrant.
type ReferenceGrant struct {
	Source Source
	*gwv1.ReferenceGrant
}

// BackendTLSPolicy is a gateway.networking.k8s.io BackendTLSPolicy.
type BackendTLSPolicy struct {
	Source Source
	*gwv1.BackendTLSPolicy
}

// ConfigMap is a core/v1 ConfigMap (Gateway API CA certificate references).
type ConfigMap struct {
	Source Source
	*corev1.ConfigMap
}

// Namespace is a core/v1 Namespace: its labels select routes (allowedRoutes selectors).
type Namespace struct {
	Source Source
	*corev1.Namespace
}

// GatewayAPI is every Gateway API object of a bundle, in source order, with the Namespaces
// whose labels listeners' allowedRoutes selectors read.
type GatewayAPI struct {
	GatewayClasses     []GatewayClass     `json:"gatewayClasses,omitempty"`
	Gateways           []KubeGateway      `json:"gateways,omitempty"`
	HTTPRoutes         []HTTPRoute        `json:"httpRoutes,omitempty"`
	GRPCRoutes         []GRPCRoute        `json:"grpcRoutes,omitempty"`
	TLSRoutes          []TLSRoute         `json:"tlsRoutes,omitempty"`
	TCPRoutes          []TCPRoute         `json:"tcpRoutes,omitempty"`
	ReferenceGrants    []ReferenceGrant   `json:"referenceGrants,omitempty"`
	BackendTLSPolicies []BackendTLSPolicy `json:"backendTLSPolicies,omitempty"`
	Namespaces         []Namespace        `json:"namespaces,omitempty"`
}

// Empty reports whether g holds no object.
func (g *GatewayAPI) Empty() bool {
	return len(g.GatewayClasses)+len(g.Gateways)+len(g.HTTPRoutes)+len(g.GRPCRoutes)+
		len(g.TLSRoutes)+len(g.TCPRoutes)+len(g.ReferenceGrants)+len(g.BackendTLSPolicies) == 0
}

// Append adds every object of o to g.
func (g *GatewayAPI) Append(o *GatewayAPI) {
	g.GatewayClasses = append(g.GatewayClasses, o.GatewayClasses...)
	g.Gateways = append(g.Gateways, o.Gateways...)
	g.HTTPRoutes = append(g.HTTPRoutes, o.HTTPRoutes...)
	g.GRPCRoutes = append(g.GRPCRoutes, o.GRPCRoutes...)
	g.TLSRoutes = append(g.TLSRoutes, o.TLSRoutes...)
	g.TCPRoutes = append(g.TCPRoutes, o.TCPRoutes...)
	g.ReferenceGrants = append(g.ReferenceGrants, o.ReferenceGrants...)
	g.BackendTLSPolicies = append(g.BackendTLSPolicies, o.BackendTLSPolicies...)
	g.Namespaces = append(g.Namespaces, o.Namespaces...)
}

// FailBackendHost is the destination host internal/gatewayapi writes into a derived
// VirtualService for a backendRef it cannot use (unresolvable, or behind a BackendTLSPolicy
// that cannot be honoured): the translator turns that weighted destination into a share of
// the rule's requests answered 500 (snapshot.WeightedCluster.Fail), as the Gateway API
// requires. The .invalid TLD (RFC 2606) can name no real service, and the translator
// honours it only in VirtualServices derived from the Gateway API.
const FailBackendHost = "backend-not-usable.gateway-api.invalid"
