package translate

import (
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/portcullis/portcullis/internal/resources"
)

// Pod labels for DestinationRule subsets of Kubernetes Services (issue 12 item 8): an
// EndpointSlice endpoint is the Pod its targetRef names (as Istio's EndpointSlice
// controller resolves it), or, without a targetRef, the Pod of its namespace with its
// address. Its labels decide whether the endpoint is in a subset.

// podIndex finds Pods by "ns/name" and by "ns/ip".
type podIndex struct {
	byName map[string]*resources.Pod
	byIP   map[string]*resources.Pod
}

// newPodIndex indexes pods; on duplicates the first in source order wins.
func newPodIndex(pods []resources.Pod) podIndex {
	idx := podIndex{byName: make(map[string]*resources.Pod, len(pods)), byIP: map[string]*resources.Pod{}}
	add := func(m map[string]*resources.Pod, k string, p *resources.Pod) {
		if prev := m[k]; prev == nil || sourceBefore(p.Source, prev.Source) {
			m[k] = p
		}
	}
	for i := range pods {
		p := &pods[i]
		add(idx.byName, p.Namespace+"/"+p.Name, p)
		if p.IP != "" {
			add(idx.byIP, p.Namespace+"/"+p.IP, p)
		}
	}
	return idx
}

// labels returns the labels of ep's Pod; known is false when no Pod is found.
func (idx podIndex) labels(ns string, ep discoveryv1.Endpoint) (labels map[string]string, known bool) {
	var p *resources.Pod
	if ref := ep.TargetRef; ref != nil {
		if ref.Kind != "Pod" {
			return nil, false
		}
		if ref.Namespace != "" {
			ns = ref.Namespace
		}
		p = idx.byName[ns+"/"+ref.Name]
	} else if len(ep.Addresses) > 0 {
		p = idx.byIP[ns+"/"+ep.Addresses[0]]
	}
	if p == nil {
		return nil, false
	}
	return p.Labels, true
}
