package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"github.com/portcullis/portcullis/internal/resources"
)

// Options configure a Source.
type Options struct {
	// Kubeconfig is the kubeconfig file; Context selects one of its contexts (default: its
	// current context). Ignored when InCluster is set.
	Kubeconfig string
	Context    string
	// InCluster uses the service account of the pod this runs in.
	InCluster bool

	// Namespace is the gateway's own namespace, the only one whose Secrets are read.
	Namespace string
	// RootNamespace is Istio's rootNamespace (default istio-system): its
	// AuthorizationPolicies and RequestAuthentications are watched along with the gateway
	// namespace's (security.go).
	RootNamespace string
	// WatchNamespaces restricts Istio objects, Services, EndpointSlices and Pods to these
	// namespaces; empty watches all namespaces.
	WatchNamespaces []string
	// PodMetadata is the client of the Pod metadata informer (pods.go), which resolves
	// the subsets of Kubernetes Services; New sets it. nil: Pods are not watched, and a
	// subset of a Service matches none of its endpoints (reported by the translator).
	PodMetadata metadata.Interface
	// DisableGatewayAPI: never watch the Gateway API (nor, with it, the Secrets,
	// ConfigMaps and Namespaces beyond the gateway's namespace), even when served.
	DisableGatewayAPI bool
	// PublishService "namespace/name": the Service whose status.loadBalancer.ingress is
	// published as the bundle's GatewayAPI.PublishAddresses (publish.go). Empty: none.
	PublishService string

	// Up is called with false when the API server is lost and with true when it is
	// reachable again (and once after the first sync). Optional; called from one goroutine
	// at a time.
	Up func(up bool)
	// HealthInterval is how often the API server is probed (GET /readyz, 2 s timeout) to
	// notice that it is lost or back (default 2 s).
	HealthInterval time.Duration
}

// Source watches the Kubernetes API and publishes complete bundles. Create it with New (or
// NewForClients), then call Run once.
type Source struct {
	opts    Options
	logger  *slog.Logger
	publish func(*resources.Bundle)
	kube    kubernetes.Interface
	istio   istioclient.Interface
	// Gateway API (gatewayapi.go): the client (nil: not watched), the informer factories
	// and listers Run sets up when the API server serves the group.
	gwClient    gwclient.Interface
	gwFactories []gwinformers.SharedInformerFactory
	gw          gwStatePointer

	kubeFactories  []informers.SharedInformerFactory
	istioFactories []istioinformers.SharedInformerFactory
	scopes         []*scope // one per watched namespace, or one for all
	secrets        *secretScope
	security       []*securityScope // security.go
	pods           []*podScope      // pods.go
	publishSvc     *publishScope    // publish.go; nil without Options.PublishService
	hasSynced      []cache.InformerSynced

	dirty  chan struct{} // capacity 1: something changed since the last publish
	synced atomic.Bool
	health health
}

// RESTConfig builds the client configuration described by o.
func RESTConfig(o Options) (*rest.Config, error) {
	if o.InCluster {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster kubernetes config: %w", err)
		}
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: o.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %q context %q: %w", o.Kubeconfig, o.Context, err)
	}
	return cfg, nil
}

// New connects to the API server described by opts (lazily: nothing is contacted before
// Run) and sets up the informers.
func New(opts Options, publish func(*resources.Bundle), logger *slog.Logger) (*Source, error) {
	cfg, err := RESTConfig(opts)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "portcullis"
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	ic, err := istioclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("istio client: %w", err)
	}
	if opts.PodMetadata, err = metadata.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	s, err := NewForClients(opts, kc, ic, publish, logger)
	if err != nil {
		return nil, err
	}
	if opts.DisableGatewayAPI {
		return s, nil
	}
	gc, err := gwclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway API client: %w", err)
	}
	s.SetGatewayAPIClient(gc)
	return s, nil
}

// NewForClients is New with given clients (tests use the fake clientsets).
func NewForClients(opts Options, kc kubernetes.Interface, ic istioclient.Interface,
	publish func(*resources.Bundle), logger *slog.Logger) (*Source, error) {
	if opts.Namespace == "" {
		return nil, errors.New("kubernetes source: the gateway namespace must be set")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 2 * time.Second
	}
	s := &Source{
		opts:    opts,
		logger:  logger.With("source", "kubernetes"),
		publish: publish,
		kube:    kc,
		istio:   ic,
		dirty:   make(chan struct{}, 1),
	}
	s.health = health{report: opts.Up, logger: s.logger}
	namespaces := dedupe(opts.WatchNamespaces)
	if len(namespaces) == 0 {
		namespaces = []string{""} // all namespaces
	}
	for _, ns := range namespaces {
		kf := informers.NewSharedInformerFactoryWithOptions(kc, 0,
			informers.WithNamespace(ns), informers.WithTransform(stripManagedFields))
		isf := istioinformers.NewSharedInformerFactoryWithOptions(ic, 0,
			istioinformers.WithNamespace(ns), istioinformers.WithTransform(stripManagedFields))
		sc := newScope(ns, kf, isf)
		s.kubeFactories = append(s.kubeFactories, kf)
		s.istioFactories = append(s.istioFactories, isf)
		s.scopes = append(s.scopes, sc)
		for _, inf := range sc.informers() {
			if err := s.watch(inf); err != nil {
				return nil, err
			}
		}
		if opts.PodMetadata != nil {
			ps, err := newPodScope(opts.PodMetadata, ns)
			if err != nil {
				return nil, fmt.Errorf("kubernetes source: pod informer: %w", err)
			}
			s.pods = append(s.pods, ps)
			if err := s.watch(ps.informer); err != nil {
				return nil, err
			}
		}
	}
	// Secrets: a factory of their own, scoped to the gateway namespace whatever the watched
	// namespaces are.
	sf := informers.NewSharedInformerFactoryWithOptions(kc, 0,
		informers.WithNamespace(opts.Namespace), informers.WithTransform(stripManagedFields))
	s.kubeFactories = append(s.kubeFactories, sf)
	s.secrets = newSecretScope(opts.Namespace, sf)
	if err := s.watch(s.secrets.informer); err != nil {
		return nil, err
	}
	if err := s.addSecurityScopes(); err != nil {
		return nil, err
	}
	if err := s.addPublishScope(); err != nil {
		return nil, err
	}
	return s, nil
}

// watch registers the change handler and the error handler on one informer.
func (s *Source) watch(inf cache.SharedIndexInformer) error {
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { s.touch() },
		UpdateFunc: func(oldObj, newObj any) {
			if resourceVersion(oldObj) != resourceVersion(newObj) || resourceVersion(newObj) == "" {
				s.touch()
			}
		},
		DeleteFunc: func(any) { s.touch() },
	})
	if err != nil {
		return fmt.Errorf("kubernetes source: event handler: %w", err)
	}
	if err := inf.SetWatchErrorHandler(s.health.watchError); err != nil {
		return fmt.Errorf("kubernetes source: watch error handler: %w", err)
	}
	s.hasSynced = append(s.hasSynced, inf.HasSynced, reg.HasSynced)
	return nil
}

func (s *Source) touch() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// Synced reports whether every informer has completed its first list.
func (s *Source) Synced() bool { return s.synced.Load() }

// Client is the Kubernetes clientset the source uses (for the EventPublisher).
func (s *Source) Client() kubernetes.Interface { return s.kube }

// Run starts the informers, publishes the first bundle once they have all synced and then
// one after every change, until ctx is done. It returns nil on cancellation.
func (s *Source) Run(ctx context.Context) error {
	if s.gwClient != nil && !s.startGatewayAPI(ctx) { // gatewayapi.go
		return nil // ctx done
	}
	for _, f := range s.gwFactories {
		f.Start(ctx.Done())
	}
	for _, f := range s.kubeFactories {
		f.Start(ctx.Done())
	}
	for _, f := range s.istioFactories {
		f.Start(ctx.Done())
	}
	for _, ps := range s.pods {
		ps.factory.Start(ctx.Done())
	}
	var wg sync.WaitGroup
	defer func() {
		for _, f := range s.kubeFactories {
			f.Shutdown()
		}
		for _, f := range s.istioFactories {
			f.Shutdown()
		}
		for _, ps := range s.pods {
			ps.factory.Shutdown()
		}
		for _, f := range s.gwFactories {
			f.Shutdown()
		}
		wg.Wait()
	}()
	wg.Go(func() { s.health.run(ctx, s.opts.HealthInterval, s.probe) })

	s.logger.Info("waiting for informers to sync", "namespace", s.opts.Namespace,
		"watchNamespaces", s.opts.WatchNamespaces)
	if !cache.WaitForCacheSync(ctx.Done(), s.hasSynced...) {
		return nil // ctx done
	}
	s.synced.Store(true)
	s.logger.Info("informers synced")
	s.health.set(true, nil)
	for {
		select {
		case <-s.dirty: // drain: the bundle below includes it
		default:
		}
		b := s.Bundle()
		s.logger.Debug("publishing bundle", "gateways", len(b.Gateways),
			"virtualServices", len(b.VirtualServices), "secrets", len(b.Secrets),
			"services", len(b.Services), "endpointSlices", len(b.EndpointSlices), "pods", len(b.Pods))
		s.publish(b)
		select {
		case <-ctx.Done():
			return nil
		case <-s.dirty:
		}
	}
}

// probe checks that the API server answers (used to notice that it is back).
func (s *Source) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if rc := s.kube.Discovery().RESTClient(); rc != nil {
		return rc.Get().AbsPath("/readyz").Do(ctx).Error()
	}
	_, err := s.kube.Discovery().ServerVersion() // fake clients have no REST client
	return err
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
