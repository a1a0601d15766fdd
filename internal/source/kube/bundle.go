package kube

import (
	"cmp"
	"slices"

	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	istiolisters "istio.io/client-go/pkg/listers/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/portcullis/portcullis/internal/resources"
)

// istioAPIVersion is the version the informers watch. The API server converts objects
// stored as v1alpha3/v1beta1 (the CRDs use conversion strategy None: same schema).
const istioAPIVersion = "networking.istio.io/v1"

// scope is the informers of one watched namespace ("" = all namespaces).
type scope struct {
	namespace string

	gateways         istiolisters.GatewayLister
	virtualServices  istiolisters.VirtualServiceLister
	destinationRules istiolisters.DestinationRuleLister
	serviceEntries   istiolisters.ServiceEntryLister
	services         corelisters.ServiceLister
	endpointSlices   discoverylisters.EndpointSliceLister

	infs []cache.SharedIndexInformer
}

func newScope(ns string, kf informers.SharedInformerFactory, isf istioinformers.SharedInformerFactory) *scope {
	net := isf.Networking().V1()
	gw, vs, dr, se := net.Gateways(), net.VirtualServices(), net.DestinationRules(), net.ServiceEntries()
	svc, eps := kf.Core().V1().Services(), kf.Discovery().V1().EndpointSlices()
	return &scope{
		namespace:        ns,
		gateways:         gw.Lister(),
		virtualServices:  vs.Lister(),
		destinationRules: dr.Lister(),
		serviceEntries:   se.Lister(),
		services:         svc.Lister(),
		endpointSlices:   eps.Lister(),
		infs: []cache.SharedIndexInformer{gw.Informer(), vs.Informer(), dr.Informer(),
			se.Informer(), svc.Informer(), eps.Informer()},
	}
}

func (sc *scope) informers() []cache.SharedIndexInformer { return sc.infs }

// secretScope is the Secret informer of the gateway namespace.
type secretScope struct {
	namespace string
	lister    corelisters.SecretNamespaceLister
	informer  cache.SharedIndexInformer
}

func newSecretScope(ns string, f informers.SharedInformerFactory) *secretScope {
	si := f.Core().V1().Secrets()
	return &secretScope{namespace: ns, lister: si.Lister().Secrets(ns), informer: si.Informer()}
}

// Bundle lists every informer cache into a complete bundle. Objects are ordered oldest
// first, then by namespace and name (Istio's precedence on conflicts). The objects are
// the informers' cached ones, shared: consumers must not modify them.
func (s *Source) Bundle() *resources.Bundle {
	b := &resources.Bundle{}
	all := labels.Everything()
	for _, sc := range s.scopes {
		gws, _ := sc.gateways.List(all)
		for _, o := range gws {
			b.Gateways = append(b.Gateways, resources.Gateway{Meta: istioMeta(&o.ObjectMeta), Spec: &o.Spec})
		}
		vss, _ := sc.virtualServices.List(all)
		for _, o := range vss {
			b.VirtualServices = append(b.VirtualServices, resources.VirtualService{Meta: istioMeta(&o.ObjectMeta), Spec: &o.Spec})
		}
		drs, _ := sc.destinationRules.List(all)
		for _, o := range drs {
			b.DestinationRules = append(b.DestinationRules, resources.DestinationRule{Meta: istioMeta(&o.ObjectMeta), Spec: &o.Spec})
		}
		ses, _ := sc.serviceEntries.List(all)
		for _, o := range ses {
			b.ServiceEntries = append(b.ServiceEntries, resources.ServiceEntry{Meta: istioMeta(&o.ObjectMeta), Spec: &o.Spec})
		}
		svcs, _ := sc.services.List(all)
		for _, o := range svcs {
			b.Services = append(b.Services, resources.Service{Service: o})
		}
		eps, _ := sc.endpointSlices.List(all)
		for _, o := range eps {
			b.EndpointSlices = append(b.EndpointSlices, resources.EndpointSlice{EndpointSlice: o})
		}
	}
	secrets, _ := s.secrets.lister.List(all)
	for _, o := range secrets {
		b.Secrets = append(b.Secrets, resources.Secret{Secret: o})
	}
	s.appendPods(b)
	sortBundle(b)
	s.appendSecurity(b)
	s.appendGatewayAPI(b) // gatewayapi.go
	s.appendPublish(b)    // publish.go
	return b
}

func istioMeta(om *metav1.ObjectMeta) resources.Meta {
	return resources.Meta{
		Namespace:         om.Namespace,
		Name:              om.Name,
		APIVersion:        istioAPIVersion,
		Labels:            om.Labels,
		Annotations:       om.Annotations,
		CreationTimestamp: om.CreationTimestamp.Unix(),
	}
}

func sortBundle(b *resources.Bundle) {
	byMeta := func(x, y resources.Meta) int {
		return cmp.Or(cmp.Compare(x.CreationTimestamp, y.CreationTimestamp),
			cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	}
	slices.SortFunc(b.Gateways, func(x, y resources.Gateway) int { return byMeta(x.Meta, y.Meta) })
	slices.SortFunc(b.VirtualServices, func(x, y resources.VirtualService) int { return byMeta(x.Meta, y.Meta) })
	slices.SortFunc(b.DestinationRules, func(x, y resources.DestinationRule) int { return byMeta(x.Meta, y.Meta) })
	slices.SortFunc(b.ServiceEntries, func(x, y resources.ServiceEntry) int { return byMeta(x.Meta, y.Meta) })
	byName := func(x, y metav1.Object) int {
		return cmp.Or(cmp.Compare(x.GetNamespace(), y.GetNamespace()), cmp.Compare(x.GetName(), y.GetName()))
	}
	slices.SortFunc(b.Secrets, func(x, y resources.Secret) int { return byName(x.Secret, y.Secret) })
	slices.SortFunc(b.Services, func(x, y resources.Service) int { return byName(x.Service, y.Service) })
	slices.SortFunc(b.EndpointSlices, func(x, y resources.EndpointSlice) int { return byName(x.EndpointSlice, y.EndpointSlice) })
	slices.SortFunc(b.Pods, func(x, y resources.Pod) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})
}

// stripManagedFields drops metadata.managedFields from cached objects: they are large,
// never used, and change on every write.
func stripManagedFields(obj any) (any, error) {
	if a, err := meta.Accessor(obj); err == nil {
		a.SetManagedFields(nil)
	}
	return obj, nil
}

func resourceVersion(obj any) string {
	if a, err := meta.Accessor(obj); err == nil {
		return a.GetResourceVersion()
	}
	return ""
}
