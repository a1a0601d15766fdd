// Package kube is the Kubernetes configuration source. Source watches the API server with
// shared informers (istio.io/client-go for Gateway, VirtualService, DestinationRule and
// ServiceEntry at networking.istio.io/v1 — the API server serves every stored object in
// every served version, so objects created as v1alpha3 or v1beta1 are seen too; k8s
// client-go for Services, EndpointSlices and Pod metadata (the labels DestinationRule
// subsets select endpoints by; PartialObjectMetadata only), restricted to
// Options.WatchNamespaces when set, and for Secrets of the gateway's own namespace ONLY, so that a credentialName can
// never read another namespace's Secret). After the first full sync, and after every
// settled change, it publishes the complete current resources.Bundle. Losing the API
// server keeps the last bundle (the store holds it; informers retry by themselves) and is
// reported through Options.Up and the log.
//
// With Options.PublishService it also watches that one Service (publish.go): its load
// balancer addresses become the bundle's GatewayAPI.PublishAddresses
// (--gateway-publish-service); it never joins the bundle's Services.
//
// EventPublisher posts translator and credential diagnostics as Kubernetes Events on the
// offending objects (client-go's EventBroadcaster deduplicates and rate-limits them), so
// `kubectl describe gateway` shows what `portcullis validate` would print.
//
// PodNamespace and PodLabels read the downward API, for the defaults of --namespace and
// --labels when running in a pod.
//
// Imports: internal/diag, internal/resources, istio.io/api, istio.io/client-go,
// k8s.io/api, k8s.io/apimachinery, k8s.io/client-go, sigs.k8s.io/gateway-api (types, typed
// clientset, informers and listers), standard library.
package kube
