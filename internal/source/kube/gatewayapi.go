package kube

import (
	"cmp"
	"context"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gwlisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"github.com/portcullis/portcullis/internal/resources"
)

// Kubernetes Gateway API (gateway.networking.k8s.io/v1): watched when the API server
// serves the group, which Run finds out once from discovery before starting the
// informers (a CRD installed later is read after a restart). Only the kinds served are
// watched. With them come the Secrets and ConfigMaps of the watched namespaces, which
// Gateways reference (certificateRefs, caCertificateRefs) from their own namespaces.

// gatewayAPIGroupVersion is the version the informers watch.
const gatewayAPIGroupVersion = "gateway.networking.k8s.io/v1"

// gwScope is the Gateway API listers of one watched namespace ("" = all).
type gwScope struct {
	gateways           gwlisters.GatewayLister
	httpRoutes         gwlisters.HTTPRouteLister
	grpcRoutes         gwlisters.GRPCRouteLister
	tlsRoutes          gwlisters.TLSRouteLister
	tcpRoutes          gwlisters.TCPRouteLister
	referenceGrants    gwlisters.ReferenceGrantLister
	backendTLSPolicies gwlisters.BackendTLSPolicyLister
	secrets            corelisters.SecretLister
	configMaps         corelisters.ConfigMapLister
}

// gwState is what Run set up; nil until then, or when the group is not served.
type gwState struct {
	classes    gwlisters.GatewayClassLister
	namespaces corelisters.NamespaceLister // labels for allowedRoutes selectors
	scopes     []*gwScope
}

// SetGatewayAPIClient makes Run watch the Gateway API through gc (New sets it).
func (s *Source) SetGatewayAPIClient(gc gwclient.Interface) { s.gwClient = gc }

// startGatewayAPI discovers the served Gateway API kinds and sets up their informers; it
// retries until the API server answers (or ctx ends: false).
func (s *Source) startGatewayAPI(ctx context.Context) bool {
	var served map[string]bool
	for {
		list, err := s.kube.Discovery().ServerResourcesForGroupVersion(gatewayAPIGroupVersion)
		if err == nil {
			served = map[string]bool{}
			for _, r := range list.APIResources {
				served[r.Name] = true
			}
			break
		}
		if apierrors.IsNotFound(err) {
			s.logger.Info("the Gateway API is not served by this API server (no gateway.networking.k8s.io/v1); not watched")
			return true
		}
		s.logger.Warn("Gateway API discovery failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
	st := &gwState{}
	var infs []cache.SharedIndexInformer
	cluster := gwinformers.NewSharedInformerFactoryWithOptions(s.gwClient, 0, gwinformers.WithTransform(stripManagedFields))
	s.gwFactories = append(s.gwFactories, cluster)
	if served["gatewayclasses"] {
		i := cluster.Gateway().V1().GatewayClasses()
		st.classes = i.Lister()
		infs = append(infs, i.Informer())
	}
	nsf := informers.NewSharedInformerFactoryWithOptions(s.kube, 0, informers.WithTransform(stripManagedFields))
	s.kubeFactories = append(s.kubeFactories, nsf)
	nsi := nsf.Core().V1().Namespaces()
	st.namespaces = nsi.Lister()
	infs = append(infs, nsi.Informer())
	for _, sc := range s.scopes {
		f := gwinformers.NewSharedInformerFactoryWithOptions(s.gwClient, 0,
			gwinformers.WithNamespace(sc.namespace), gwinformers.WithTransform(stripManagedFields))
		kf := informers.NewSharedInformerFactoryWithOptions(s.kube, 0,
			informers.WithNamespace(sc.namespace), informers.WithTransform(stripManagedFields))
		s.gwFactories = append(s.gwFactories, f)
		s.kubeFactories = append(s.kubeFactories, kf)
		v1 := f.Gateway().V1()
		g := &gwScope{}
		add := func(resource string, inf cache.SharedIndexInformer, set func()) {
			if served[resource] {
				set()
				infs = append(infs, inf)
			}
		}
		add("gateways", v1.Gateways().Informer(), func() { g.gateways = v1.Gateways().Lister() })
		add("httproutes", v1.HTTPRoutes().Informer(), func() { g.httpRoutes = v1.HTTPRoutes().Lister() })
		add("grpcroutes", v1.GRPCRoutes().Informer(), func() { g.grpcRoutes = v1.GRPCRoutes().Lister() })
		add("tlsroutes", v1.TLSRoutes().Informer(), func() { g.tlsRoutes = v1.TLSRoutes().Lister() })
		add("tcproutes", v1.TCPRoutes().Informer(), func() { g.tcpRoutes = v1.TCPRoutes().Lister() })
		add("referencegrants", v1.ReferenceGrants().Informer(), func() { g.referenceGrants = v1.ReferenceGrants().Lister() })
		add("backendtlspolicies", v1.BackendTLSPolicies().Informer(), func() { g.backendTLSPolicies = v1.BackendTLSPolicies().Lister() })
		sec, cm := kf.Core().V1().Secrets(), kf.Core().V1().ConfigMaps()
		g.secrets, g.configMaps = sec.Lister(), cm.Lister()
		infs = append(infs, sec.Informer(), cm.Informer())
		st.scopes = append(st.scopes, g)
	}
	for _, inf := range infs {
		if err := s.watch(inf); err != nil {
			s.logger.Error("Gateway API informer", "err", err)
		}
	}
	s.gw.Store(st)
	s.logger.Info("watching the Gateway API", "resources", len(served))
	return true
}

// appendGatewayAPI lists the Gateway API caches into b (after sortBundle: Secrets are
// merged without duplicating those of the gateway namespace).
func (s *Source) appendGatewayAPI(b *resources.Bundle) {
	st := s.gw.Load()
	if st == nil {
		return
	}
	g := &b.GatewayAPI
	each(st.classes, func(o *gwv1.GatewayClass) {
		g.GatewayClasses = append(g.GatewayClasses, resources.GatewayClass{GatewayClass: o})
	})
	each(st.namespaces, func(o *corev1.Namespace) { g.Namespaces = append(g.Namespaces, resources.Namespace{Namespace: o}) })
	have := map[string]bool{}
	for _, sec := range b.Secrets {
		have[sec.Namespace+"/"+sec.Name] = true
	}
	for _, sc := range st.scopes {
		each(sc.gateways, func(o *gwv1.Gateway) { g.Gateways = append(g.Gateways, resources.KubeGateway{Gateway: o}) })
		each(sc.httpRoutes, func(o *gwv1.HTTPRoute) { g.HTTPRoutes = append(g.HTTPRoutes, resources.HTTPRoute{HTTPRoute: o}) })
		each(sc.grpcRoutes, func(o *gwv1.GRPCRoute) { g.GRPCRoutes = append(g.GRPCRoutes, resources.GRPCRoute{GRPCRoute: o}) })
		each(sc.tlsRoutes, func(o *gwv1.TLSRoute) { g.TLSRoutes = append(g.TLSRoutes, resources.TLSRoute{TLSRoute: o}) })
		each(sc.tcpRoutes, func(o *gwv1.TCPRoute) { g.TCPRoutes = append(g.TCPRoutes, resources.TCPRoute{TCPRoute: o}) })
		each(sc.referenceGrants, func(o *gwv1.ReferenceGrant) {
			g.ReferenceGrants = append(g.ReferenceGrants, resources.ReferenceGrant{ReferenceGrant: o})
		})
		each(sc.backendTLSPolicies, func(o *gwv1.BackendTLSPolicy) {
			g.BackendTLSPolicies = append(g.BackendTLSPolicies, resources.BackendTLSPolicy{BackendTLSPolicy: o})
		})
		each(sc.secrets, func(o *corev1.Secret) {
			if k := o.Namespace + "/" + o.Name; !have[k] {
				have[k] = true
				b.Secrets = append(b.Secrets, resources.Secret{Secret: o})
			}
		})
		each(sc.configMaps, func(o *corev1.ConfigMap) { b.ConfigMaps = append(b.ConfigMaps, resources.ConfigMap{ConfigMap: o}) })
	}
	sortGatewayAPI(b)
}

// lister is what every typed lister has.
type lister[T any] interface {
	List(selector labels.Selector) ([]T, error)
}

// each calls f with every cached object of l; nothing when l is nil (kind not served).
func each[T any](l lister[T], f func(T)) {
	if l == nil {
		return
	}
	items, _ := l.List(labels.Everything())
	for _, o := range items {
		f(o)
	}
}

// sortGatewayAPI orders the lists by namespace and name, so equal caches give equal
// bundles.
func sortGatewayAPI(b *resources.Bundle) {
	key := func(o metav1.Object) string { return o.GetNamespace() + "/" + o.GetName() }
	by := func(x, y metav1.Object) int { return cmp.Compare(key(x), key(y)) }
	g := &b.GatewayAPI
	slices.SortFunc(g.GatewayClasses, func(x, y resources.GatewayClass) int { return by(x.GatewayClass, y.GatewayClass) })
	slices.SortFunc(g.Gateways, func(x, y resources.KubeGateway) int { return by(x.Gateway, y.Gateway) })
	slices.SortFunc(g.HTTPRoutes, func(x, y resources.HTTPRoute) int { return by(x.HTTPRoute, y.HTTPRoute) })
	slices.SortFunc(g.GRPCRoutes, func(x, y resources.GRPCRoute) int { return by(x.GRPCRoute, y.GRPCRoute) })
	slices.SortFunc(g.TLSRoutes, func(x, y resources.TLSRoute) int { return by(x.TLSRoute, y.TLSRoute) })
	slices.SortFunc(g.TCPRoutes, func(x, y resources.TCPRoute) int { return by(x.TCPRoute, y.TCPRoute) })
	slices.SortFunc(g.ReferenceGrants, func(x, y resources.ReferenceGrant) int { return by(x.ReferenceGrant, y.ReferenceGrant) })
	slices.SortFunc(g.BackendTLSPolicies, func(x, y resources.BackendTLSPolicy) int { return by(x.BackendTLSPolicy, y.BackendTLSPolicy) })
	slices.SortFunc(g.Namespaces, func(x, y resources.Namespace) int { return by(x.Namespace, y.Namespace) })
	slices.SortFunc(b.ConfigMaps, func(x, y resources.ConfigMap) int { return by(x.ConfigMap, y.ConfigMap) })
	slices.SortFunc(b.Secrets, func(x, y resources.Secret) int { return by(x.Secret, y.Secret) })
}

// gwStatePointer is the Source's handle on the Gateway API state (set once by Run).
type gwStatePointer = atomic.Pointer[gwState]
