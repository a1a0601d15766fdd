package resources

import (
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	telemetry "istio.io/api/telemetry/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/portcullis/portcullis/internal/diag"
)

// Source says where an object came from, for diagnostics. File is empty for objects read
// from the Kubernetes API.
type Source struct {
	File  string `json:"file,omitempty"`
	Index int    `json:"index,omitempty"` // 0-based document index in File
}

// Meta is the identity of an Istio object.
type Meta struct {
	Namespace         string            `json:"namespace"`
	Name              string            `json:"name"`
	APIVersion        string            `json:"apiVersion"` // e.g. networking.istio.io/v1alpha3
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Source            Source            `json:"source"`
	CreationTimestamp int64             `json:"creationTimestamp,omitempty"` // unix seconds; 0 for files
}

// Diagnostic is a finding on the object of kind that m identifies.
func (m *Meta) Diagnostic(sev diag.Severity, kind, field, msg string) diag.Diagnostic {
	return diag.Diagnostic{
		Severity: sev, Kind: kind, Namespace: m.Namespace, Name: m.Name,
		File: m.Source.File, Index: m.Source.Index, Field: field, Message: msg,
	}
}

// Gateway is networking.istio.io Gateway (v1alpha3, v1beta1 or v1).
type Gateway struct {
	Meta
	Spec *networking.Gateway
}

// VirtualService is networking.istio.io VirtualService.
type VirtualService struct {
	Meta
	Spec *networking.VirtualService
}

// DestinationRule is networking.istio.io DestinationRule.
type DestinationRule struct {
	Meta
	Spec *networking.DestinationRule
}

// ServiceEntry is networking.istio.io ServiceEntry.
type ServiceEntry struct {
	Meta
	Spec *networking.ServiceEntry
}

// AuthorizationPolicy is security.istio.io AuthorizationPolicy (v1beta1 or v1).
type AuthorizationPolicy struct {
	Meta
	Spec *security.AuthorizationPolicy
	// Unreadable is set (the reason) when the spec could not be decoded: the policy is kept
	// so that it fails closed instead of disappearing (Spec is then empty).
	Unreadable string
}

// RequestAuthentication is security.istio.io RequestAuthentication (v1beta1 or v1).
type RequestAuthentication struct {
	Meta
	Spec *security.RequestAuthentication
	// Unreadable: as AuthorizationPolicy.Unreadable.
	Unreadable string
}

// Telemetry is telemetry.istio.io Telemetry (v1 or v1alpha1; v1 aliases v1alpha1 types).
type Telemetry struct {
	Meta
	Spec *telemetry.Telemetry
}

// Secret is a core/v1 Secret. Decoders merge stringData into Data (as the API server does),
// so consumers read Data only.
type Secret struct {
	Source Source
	*corev1.Secret
}

// Service is a core/v1 Service.
type Service struct {
	Source Source
	*corev1.Service
}

// EndpointSlice is a discovery.k8s.io/v1 EndpointSlice.
type EndpointSlice struct {
	Source Source
	*discoveryv1.EndpointSlice
}

// Bundle is everything the gateway knows at one moment. Sources publish whole bundles; the
// translator turns one into a Snapshot. Slices are in source order (files: path order, then
// document order), which matters: on conflicts, the earlier object wins.
type Bundle struct {
	Gateways         []Gateway
	VirtualServices  []VirtualService
	DestinationRules []DestinationRule
	ServiceEntries   []ServiceEntry
	Secrets          []Secret
	Services         []Service
	EndpointSlices   []EndpointSlice
	// security.istio.io (internal/authz)
	AuthorizationPolicies  []AuthorizationPolicy
	RequestAuthentications []RequestAuthentication
	// telemetry.istio.io (internal/telemetry)
	Telemetries []Telemetry
	// gateway.networking.k8s.io (internal/gatewayapi) and the ConfigMaps its CA
	// certificate references name.
	GatewayAPI GatewayAPI
	ConfigMaps []ConfigMap

	// Diagnostics found while loading (bad YAML, unknown fields, unknown kinds). The objects
	// they concern are not in the bundle.
	Diagnostics []diag.Diagnostic
}

// Append adds every object and diagnostic of o to b (used to combine sources).
func (b *Bundle) Append(o *Bundle) {
	b.Gateways = append(b.Gateways, o.Gateways...)
	b.VirtualServices = append(b.VirtualServices, o.VirtualServices...)
	b.DestinationRules = append(b.DestinationRules, o.DestinationRules...)
	b.ServiceEntries = append(b.ServiceEntries, o.ServiceEntries...)
	b.Secrets = append(b.Secrets, o.Secrets...)
	b.Services = append(b.Services, o.Services...)
	b.EndpointSlices = append(b.EndpointSlices, o.EndpointSlices...)
	b.AuthorizationPolicies = append(b.AuthorizationPolicies, o.AuthorizationPolicies...)
	b.RequestAuthentications = append(b.RequestAuthentications, o.RequestAuthentications...)
	b.Telemetries = append(b.Telemetries, o.Telemetries...)
	b.GatewayAPI.Append(&o.GatewayAPI)
	b.ConfigMaps = append(b.ConfigMaps, o.ConfigMaps...)
	b.Diagnostics = append(b.Diagnostics, o.Diagnostics...)
}
