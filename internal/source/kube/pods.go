package kube

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/portcullis/portcullis/internal/resources"
)

// Pods (issue 12 item 8): DestinationRule subsets of a Kubernetes Service select its
// EndpointSlice endpoints by the labels of the Pods they target. The source watches Pods
// in the watched namespaces, metadata only (PartialObjectMetadata: name, namespace,
// labels), so neither the wire nor the cache carries pod specs or statuses.

// podScope is the Pod metadata informer of one watched namespace ("" = all).
type podScope struct {
	factory  metadatainformer.SharedInformerFactory
	lister   cache.GenericLister
	informer cache.SharedIndexInformer
}

func newPodScope(md metadata.Interface, ns string) (*podScope, error) {
	f := metadatainformer.NewFilteredSharedInformerFactory(md, 0, ns, nil)
	gi := f.ForResource(corev1.SchemeGroupVersion.WithResource("pods"))
	inf := gi.Informer()
	if err := inf.SetTransform(stripManagedFields); err != nil {
		return nil, err
	}
	return &podScope{factory: f, lister: gi.Lister(), informer: inf}, nil
}

// appendPods adds the cached Pods of every watched namespace to b.
func (s *Source) appendPods(b *resources.Bundle) {
	for _, ps := range s.pods {
		objs, _ := ps.lister.List(labels.Everything())
		for _, o := range objs {
			if m, ok := o.(*metav1.PartialObjectMetadata); ok {
				b.Pods = append(b.Pods, resources.Pod{Namespace: m.Namespace, Name: m.Name, Labels: m.Labels})
			}
		}
	}
}
