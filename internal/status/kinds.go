package status

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// typedClient is the part of a generated typed client of one Gateway API kind that the
// writer uses.
type typedClient[T any, L any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
}

// kindOps writes the status of one kind.
type kindOps interface {
	// apply reads the object, merges want into its status and writes it when that
	// changed anything (want nil: remove our entries, for shared kinds). It reports
	// whether it wrote; an object that does not exist is not an error.
	apply(ctx context.Context, w *Writer, ns, name string, want any) (bool, error)
	// shared: several controllers write entries of the status (routes: parents,
	// policies: ancestors); ours are merged and removed when no longer attached.
	shared() bool
	// owned lists the objects of namespace ns (all: "") that carry entries of ours.
	owned(ctx context.Context, c gwclient.Interface, ns string, ours gwv1.GatewayController) ([]string, error)
}

type kind[T metav1.Object, L any] struct {
	client func(c gwclient.Interface, ns string) typedClient[T, L]
	items  func(L) []T
	// merge sets obj's status from want (nil: remove ours) and reports whether it changed.
	merge func(obj T, want any, ours gwv1.GatewayController, now metav1.Time) (bool, error)
	// hasOurs is set for shared kinds.
	hasOurs func(obj T, ours gwv1.GatewayController) bool
}

func (k kind[T, L]) shared() bool { return k.hasOurs != nil }

func (k kind[T, L]) apply(ctx context.Context, w *Writer, ns, name string, want any) (bool, error) {
	if want == nil && !k.shared() {
		return false, nil
	}
	c := k.client(w.gw, ns)
	wrote := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := c.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed, err := k.merge(obj, want, w.opts.ControllerName, metav1.NewTime(w.now().Truncate(1e9)))
		if err != nil || !changed {
			return err
		}
		if err := w.limiter.Wait(ctx); err != nil {
			return err
		}
		if _, err := c.UpdateStatus(ctx, obj, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return err
		}
		wrote = true
		return nil
	})
	if apierrors.IsNotFound(err) {
		return false, nil // deleted since the snapshot: nothing to write
	}
	return wrote, err
}

func (k kind[T, L]) owned(ctx context.Context, c gwclient.Interface, ns string, ours gwv1.GatewayController) ([]string, error) {
	if !k.shared() {
		return nil, nil
	}
	l, err := k.client(c, ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range k.items(l) {
		if k.hasOurs(o, ours) {
			keys = append(keys, o.GetNamespace()+"/"+o.GetName())
		}
	}
	return keys, nil
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// whole is a kind whose status is ours alone (GatewayClass, Gateway, ListenerSet).
func whole[T metav1.Object, L any, S any](client func(gwclient.Interface, string) typedClient[T, L], items func(L) []T,
	status func(T) *S, merge func(cur, want S, now metav1.Time) (S, bool)) kindOps {
	return kind[T, L]{client: client, items: items,
		merge: func(obj T, want any, _ gwv1.GatewayController, now metav1.Time) (bool, error) {
			w, err := statusAs[S](want)
			if err != nil {
				return false, err
			}
			next, changed := merge(*status(obj), w, now)
			*status(obj) = next
			return changed, nil
		}}
}

// route is a route kind: S is its status type (HTTPRouteStatus...), which inlines
// RouteStatus.
func route[T metav1.Object, L any, S any](client func(gwclient.Interface, string) typedClient[T, L], items func(L) []T,
	status func(T) *gwv1.RouteStatus, inner func(S) gwv1.RouteStatus) kindOps {
	return kind[T, L]{client: client, items: items,
		merge: func(obj T, want any, ours gwv1.GatewayController, now metav1.Time) (bool, error) {
			var w *gwv1.RouteStatus
			if want != nil {
				s, err := statusAs[S](want)
				if err != nil {
					return false, err
				}
				rs := inner(s)
				w = &rs
			}
			next, changed := mergeRoute(*status(obj), w, ours, now)
			*status(obj) = next
			return changed, nil
		},
		hasOurs: func(obj T, ours gwv1.GatewayController) bool {
			return hasOurs(parentEntry(), status(obj).Parents, ours)
		},
	}
}

// kinds are the Gateway API kinds whose status the writer writes, by Kind: those
// portcullis translates that have a status (the chart grants update on exactly their
// /status subresources; ListenerSet and UDPRoute are not translated).
func kindTable() map[string]kindOps {
	return map[string]kindOps{
		"GatewayClass": whole(
			func(c gwclient.Interface, _ string) typedClient[*gwv1.GatewayClass, *gwv1.GatewayClassList] {
				return c.GatewayV1().GatewayClasses()
			},
			func(l *gwv1.GatewayClassList) []*gwv1.GatewayClass { return ptrs(l.Items) },
			func(o *gwv1.GatewayClass) *gwv1.GatewayClassStatus { return &o.Status }, mergeGatewayClass),
		"Gateway": whole(
			func(c gwclient.Interface, ns string) typedClient[*gwv1.Gateway, *gwv1.GatewayList] {
				return c.GatewayV1().Gateways(ns)
			},
			func(l *gwv1.GatewayList) []*gwv1.Gateway { return ptrs(l.Items) },
			func(o *gwv1.Gateway) *gwv1.GatewayStatus { return &o.Status }, mergeGateway),
		"HTTPRoute": route(
			func(c gwclient.Interface, ns string) typedClient[*gwv1.HTTPRoute, *gwv1.HTTPRouteList] {
				return c.GatewayV1().HTTPRoutes(ns)
			},
			func(l *gwv1.HTTPRouteList) []*gwv1.HTTPRoute { return ptrs(l.Items) },
			func(o *gwv1.HTTPRoute) *gwv1.RouteStatus { return &o.Status.RouteStatus },
			func(s gwv1.HTTPRouteStatus) gwv1.RouteStatus { return s.RouteStatus }),
		"GRPCRoute": route(
			func(c gwclient.Interface, ns string) typedClient[*gwv1.GRPCRoute, *gwv1.GRPCRouteList] {
				return c.GatewayV1().GRPCRoutes(ns)
			},
			func(l *gwv1.GRPCRouteList) []*gwv1.GRPCRoute { return ptrs(l.Items) },
			func(o *gwv1.GRPCRoute) *gwv1.RouteStatus { return &o.Status.RouteStatus },
			func(s gwv1.GRPCRouteStatus) gwv1.RouteStatus { return s.RouteStatus }),
		"TLSRoute": route(
			func(c gwclient.Interface, ns string) typedClient[*gwv1.TLSRoute, *gwv1.TLSRouteList] {
				return c.GatewayV1().TLSRoutes(ns)
			},
			func(l *gwv1.TLSRouteList) []*gwv1.TLSRoute { return ptrs(l.Items) },
			func(o *gwv1.TLSRoute) *gwv1.RouteStatus { return &o.Status.RouteStatus },
			func(s gwv1.TLSRouteStatus) gwv1.RouteStatus { return s.RouteStatus }),
		"TCPRoute": route(
			func(c gwclient.Interface, ns string) typedClient[*gwv1.TCPRoute, *gwv1.TCPRouteList] {
				return c.GatewayV1().TCPRoutes(ns)
			},
			func(l *gwv1.TCPRouteList) []*gwv1.TCPRoute { return ptrs(l.Items) },
			func(o *gwv1.TCPRoute) *gwv1.RouteStatus { return &o.Status.RouteStatus },
			func(s gwv1.TCPRouteStatus) gwv1.RouteStatus { return s.RouteStatus }),
		"BackendTLSPolicy": kind[*gwv1.BackendTLSPolicy, *gwv1.BackendTLSPolicyList]{
			client: func(c gwclient.Interface, ns string) typedClient[*gwv1.BackendTLSPolicy, *gwv1.BackendTLSPolicyList] {
				return c.GatewayV1().BackendTLSPolicies(ns)
			},
			items: func(l *gwv1.BackendTLSPolicyList) []*gwv1.BackendTLSPolicy { return ptrs(l.Items) },
			merge: func(obj *gwv1.BackendTLSPolicy, want any, ours gwv1.GatewayController, now metav1.Time) (bool, error) {
				var w *gwv1.PolicyStatus
				if want != nil {
					s, err := statusAs[gwv1.PolicyStatus](want)
					if err != nil {
						return false, err
					}
					w = &s
				}
				next, changed := mergePolicy(obj.Status, w, ours, now)
				obj.Status = next
				return changed, nil
			},
			hasOurs: func(obj *gwv1.BackendTLSPolicy, ours gwv1.GatewayController) bool {
				return hasOurs(ancestorEntry(), obj.Status.Ancestors, ours)
			},
		},
	}
}

// opsFor finds the kind of an update in the writer's table.
func (w *Writer) opsFor(u Update) (kindOps, error) {
	if u.Group != gwv1.GroupName {
		return nil, fmt.Errorf("group %q is not %s", u.Group, gwv1.GroupName)
	}
	k, ok := w.kinds[u.Kind]
	if !ok {
		return nil, fmt.Errorf("kind %s has no status the writer knows", u.Kind)
	}
	return k, nil
}
