package kube

import (
	"cmp"
	"slices"

	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	securitylisters "istio.io/client-go/pkg/listers/security/v1"
	telemetrylisters "istio.io/client-go/pkg/listers/telemetry/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/portcullis/portcullis/internal/resources"
)

// securityAPIVersion is the version the security informers watch (v1beta1 objects are
// served as v1: same schema).
const securityAPIVersion = "security.istio.io/v1"

// telemetryAPIVersion is the version the Telemetry informers watch (v1alpha1 objects are
// served as v1: same schema).
const telemetryAPIVersion = "telemetry.istio.io/v1"

// securityScope watches AuthorizationPolicies and RequestAuthentications of one namespace.
// Only two namespaces can hold policies that apply to the gateway: the root namespace and
// the gateway's own; they are watched whatever --watch-namespaces says.
type securityScope struct {
	namespace string
	policies  securitylisters.AuthorizationPolicyNamespaceLister
	reqAuths  securitylisters.RequestAuthenticationNamespaceLister
	// telemetries: Telemetry is scoped as the policies are (root namespace, gateway's).
	telemetries telemetrylisters.TelemetryNamespaceLister
}

// addSecurityScopes sets up the security informers (called by NewForClients).
func (s *Source) addSecurityScopes() error {
	for _, ns := range dedupe([]string{s.opts.Namespace, cmp.Or(s.opts.RootNamespace, "istio-system")}) {
		isf := istioinformers.NewSharedInformerFactoryWithOptions(s.istio, 0,
			istioinformers.WithNamespace(ns), istioinformers.WithTransform(stripManagedFields))
		sec := isf.Security().V1()
		ap, ra := sec.AuthorizationPolicies(), sec.RequestAuthentications()
		tel := isf.Telemetry().V1().Telemetries()
		s.security = append(s.security, &securityScope{
			namespace:   ns,
			policies:    ap.Lister().AuthorizationPolicies(ns),
			reqAuths:    ra.Lister().RequestAuthentications(ns),
			telemetries: tel.Lister().Telemetries(ns),
		})
		s.istioFactories = append(s.istioFactories, isf)
		for _, inf := range []cache.SharedIndexInformer{ap.Informer(), ra.Informer(), tel.Informer()} {
			if err := s.watch(inf); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendSecurity adds the cached policies to b, oldest first.
func (s *Source) appendSecurity(b *resources.Bundle) {
	all := labels.Everything()
	for _, sc := range s.security {
		aps, _ := sc.policies.List(all)
		for _, o := range aps {
			b.AuthorizationPolicies = append(b.AuthorizationPolicies, resources.AuthorizationPolicy{Meta: securityMeta(&o.ObjectMeta), Spec: &o.Spec})
		}
		ras, _ := sc.reqAuths.List(all)
		for _, o := range ras {
			b.RequestAuthentications = append(b.RequestAuthentications, resources.RequestAuthentication{Meta: securityMeta(&o.ObjectMeta), Spec: &o.Spec})
		}
		tels, _ := sc.telemetries.List(all)
		for _, o := range tels {
			m := istioMeta(&o.ObjectMeta)
			m.APIVersion = telemetryAPIVersion
			b.Telemetries = append(b.Telemetries, resources.Telemetry{Meta: m, Spec: &o.Spec})
		}
	}
	byMeta := func(x, y resources.Meta) int {
		return cmp.Or(cmp.Compare(x.CreationTimestamp, y.CreationTimestamp),
			cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	}
	slices.SortFunc(b.AuthorizationPolicies, func(x, y resources.AuthorizationPolicy) int { return byMeta(x.Meta, y.Meta) })
	slices.SortFunc(b.RequestAuthentications, func(x, y resources.RequestAuthentication) int { return byMeta(x.Meta, y.Meta) })
	slices.SortFunc(b.Telemetries, func(x, y resources.Telemetry) int { return byMeta(x.Meta, y.Meta) })
}

func securityMeta(om *metav1.ObjectMeta) resources.Meta {
	m := istioMeta(om)
	m.APIVersion = securityAPIVersion
	return m
}

// securityObject finds a cached policy (for Events on it).
func (s *Source) securityObject(kind, namespace, name string) (metav1.Object, bool) {
	for _, sc := range s.security {
		if sc.namespace != namespace {
			continue
		}
		switch kind {
		case "AuthorizationPolicy":
			if o, err := sc.policies.Get(name); err == nil {
				return o, true
			}
		case "RequestAuthentication":
			if o, err := sc.reqAuths.Get(name); err == nil {
				return o, true
			}
		case "Telemetry":
			if o, err := sc.telemetries.Get(name); err == nil {
				return o, true
			}
		}
	}
	return nil, false
}
