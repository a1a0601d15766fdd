package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/portcullis/portcullis/internal/resources"
)

// publishScope watches the one Service of Options.PublishService (an informer of its
// namespace restricted to its name), whose load balancer addresses become the
// status.addresses of Gateway API Gateways that bind no address of their own, as
// ingress-nginx's --publish-service. The Service is not added to the bundle's Services:
// watching it widens nothing that routes can reach.
type publishScope struct {
	namespace, name string
	lister          corelisters.ServiceNamespaceLister
}

// ParsePublishService splits "namespace/name".
func ParsePublishService(s string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(s, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("%q is not namespace/name", s)
	}
	return ns, n, nil
}

func (s *Source) addPublishScope() error {
	if s.opts.PublishService == "" {
		return nil
	}
	ns, name, err := ParsePublishService(s.opts.PublishService)
	if err != nil {
		return fmt.Errorf("kubernetes source: publish service: %w", err)
	}
	f := informers.NewSharedInformerFactoryWithOptions(s.kube, 0, informers.WithNamespace(ns),
		informers.WithTransform(stripManagedFields),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	si := f.Core().V1().Services()
	s.kubeFactories = append(s.kubeFactories, f)
	s.publishSvc = &publishScope{namespace: ns, name: name, lister: si.Lister().Services(ns)}
	return s.watch(si.Informer())
}

// appendPublish sets b.GatewayAPI.PublishAddresses from the Service's status: each
// ingress point's IP, else its hostname, in the order the status lists them.
func (s *Source) appendPublish(b *resources.Bundle) {
	if s.publishSvc == nil {
		return
	}
	svc, err := s.publishSvc.lister.Get(s.publishSvc.name)
	if err != nil {
		return
	}
	b.GatewayAPI.PublishAddresses = loadBalancerAddresses(svc)
}

func loadBalancerAddresses(svc *corev1.Service) []string {
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		switch {
		case in.IP != "":
			out = append(out, in.IP)
		case in.Hostname != "":
			out = append(out, in.Hostname)
		}
	}
	return out
}
