package kube

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ObjectReference implements ObjectLookup from the informer caches: it finds objects the
// source watches (Istio kinds, Services, EndpointSlices in the watched namespaces, Secrets
// of the gateway namespace).
func (s *Source) ObjectReference(kind, namespace, name string) (*corev1.ObjectReference, bool) {
	var (
		om  metav1.Object
		api = "v1"
	)
	if o, ok := s.securityObject(kind, namespace, name); ok {
		om, api = o, securityAPIVersion
		if kind == "Telemetry" {
			api = telemetryAPIVersion
		}
	} else if kind == "Secret" {
		if namespace != s.secrets.namespace {
			return nil, false
		}
		o, err := s.secrets.lister.Get(name)
		if err != nil {
			return nil, false
		}
		om = o
	} else {
		sc := s.scopeFor(namespace)
		if sc == nil {
			return nil, false
		}
		var err error
		switch kind {
		case "Gateway":
			om, err = get(sc.gateways.Gateways(namespace).Get(name))
			api = istioAPIVersion
		case "VirtualService":
			om, err = get(sc.virtualServices.VirtualServices(namespace).Get(name))
			api = istioAPIVersion
		case "DestinationRule":
			om, err = get(sc.destinationRules.DestinationRules(namespace).Get(name))
			api = istioAPIVersion
		case "ServiceEntry":
			om, err = get(sc.serviceEntries.ServiceEntries(namespace).Get(name))
			api = istioAPIVersion
		case "Service":
			om, err = get(sc.services.Services(namespace).Get(name))
		case "EndpointSlice":
			om, err = get(sc.endpointSlices.EndpointSlices(namespace).Get(name))
			api = "discovery.k8s.io/v1"
		default:
			return nil, false
		}
		if err != nil {
			return nil, false
		}
	}
	return &corev1.ObjectReference{
		Kind:       kind,
		APIVersion: api,
		Namespace:  om.GetNamespace(),
		Name:       om.GetName(),
		UID:        om.GetUID(),
	}, true
}

// get adapts a typed lister Get to metav1.Object.
func get[T metav1.Object](o T, err error) (metav1.Object, error) {
	if err != nil {
		return nil, err
	}
	return o, nil
}

func (s *Source) scopeFor(namespace string) *scope {
	for _, sc := range s.scopes {
		if sc.namespace == "" || sc.namespace == namespace {
			return sc
		}
	}
	return nil
}
