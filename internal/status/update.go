package status

// Update is the status one Gateway API object should have after a translation.
type Update struct {
	// Group is "gateway.networking.k8s.io"; Kind e.g. "Gateway", "HTTPRoute".
	Group, Kind     string
	Namespace, Name string // Namespace "" for cluster-scoped kinds (GatewayClass)
	// Generation the status was computed from (observedGeneration of its conditions).
	Generation int64
	// UID is the object's metadata.uid ("" when unknown): an object deleted and created
	// again under the same name and generation is another object, written again.
	UID string
	// Status is the typed status of the kind from sigs.k8s.io/gateway-api/apis, e.g.
	// *v1.GatewayStatus, *v1.HTTPRouteStatus, *v1.GatewayClassStatus. For route kinds
	// only the parents whose controllerName is ours are set; the writer merges them with
	// other controllers' parents.
	Status any
}

// Sink receives the complete set of updates of each snapshot, in order.
type Sink interface {
	Publish(updates []Update)
}
