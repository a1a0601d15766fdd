package status

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/flowcontrol"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// fieldManager names portcullis in the objects' managedFields.
const fieldManager = "portcullis"

// DefaultControllerName is the GatewayClass controllerName portcullis answers to.
const DefaultControllerName = "portcullis.io/gateway-controller"

// WriterOptions configure a Writer.
type WriterOptions struct {
	// ControllerName is ours: route parents and policy ancestors of this controller are
	// the only entries the writer adds, changes or removes.
	ControllerName gwv1.GatewayController
	// Namespaces are the watched namespaces (nil: all), searched on gaining leadership
	// for routes and policies that still carry our entries.
	Namespaces []string
	// QPS and Burst bound the status writes (default 20/s, burst 50).
	QPS   float32
	Burst int
	// RetryInterval: a write that failed (other than a conflict, retried at once) is
	// retried after this long (default 5 s).
	RetryInterval time.Duration
	// LeaderElection, when set, makes the writer write only while it holds the Lease;
	// nil writes unconditionally (a single replica).
	LeaderElection *LeaderElection
	// OnLeading is called with true when the writer starts writing and false when it
	// stops (optional; e.g. a metric).
	OnLeading func(bool)
	Logger    *slog.Logger
}

// LeaderElection is the client-go Lease lock the replicas compete for.
type LeaderElection struct {
	Client    kubernetes.Interface
	Namespace string // the gateway's namespace
	Name      string // the Lease
	Identity  string // this replica (the pod name)
	// LeaseDuration, RenewDeadline, RetryPeriod: client-go's (defaults 15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Writer is the Kubernetes-mode Sink: it writes each snapshot's statuses to the API
// server's status subresources, from the leader replica only.
type Writer struct {
	gw      gwclient.Interface
	opts    WriterOptions
	limiter flowcontrol.RateLimiter
	logger  *slog.Logger
	now     func() time.Time
	kinds   map[string]kindOps // kindTable()

	mu     sync.Mutex
	latest []Update
	have   bool
	signal chan struct{}

	leadMu  sync.Mutex
	leading atomic.Bool
	writes  atomic.Int64

	// Leader-only state, owned by the write loop.
	written map[string]Update // key -> the update the object's status now reflects
	owned   map[string]bool   // keys of shared-kind objects that carry our entries
}

// NewWriter builds a writer using the typed Gateway API clientset c.
func NewWriter(c gwclient.Interface, o WriterOptions) *Writer {
	if o.ControllerName == "" {
		o.ControllerName = DefaultControllerName
	}
	if o.QPS <= 0 {
		o.QPS = 20
	}
	if o.Burst <= 0 {
		o.Burst = 50
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if le := o.LeaderElection; le != nil {
		if le.LeaseDuration <= 0 {
			le.LeaseDuration = 15 * time.Second
		}
		if le.RenewDeadline <= 0 {
			le.RenewDeadline = 10 * time.Second
		}
		if le.RetryPeriod <= 0 {
			le.RetryPeriod = 2 * time.Second
		}
	}
	return &Writer{gw: c, opts: o, limiter: flowcontrol.NewTokenBucketRateLimiter(o.QPS, o.Burst),
		logger: o.Logger.With("component", "status"), now: time.Now, kinds: kindTable(), signal: make(chan struct{}, 1)}
}

// Publish records the complete set of statuses of a snapshot; the leader writes it. It
// never blocks: a set not yet written is replaced by the newer one.
func (w *Writer) Publish(updates []Update) {
	w.mu.Lock()
	w.latest, w.have = updates, true
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// Leading reports whether this replica currently writes statuses.
func (w *Writer) Leading() bool { return w.leading.Load() }

// Writes is the number of status writes made so far.
func (w *Writer) Writes() int64 { return w.writes.Load() }

// Run writes statuses until ctx ends: at once without leader election, else whenever this
// replica holds the Lease (campaigning again after losing it).
func (w *Writer) Run(ctx context.Context) error {
	le := w.opts.LeaderElection
	if le == nil {
		w.lead(ctx)
		return nil
	}
	for ctx.Err() == nil {
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: le.Namespace, Name: le.Name},
				Client:     le.Client.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: le.Identity},
			},
			LeaseDuration:   le.LeaseDuration,
			RenewDeadline:   le.RenewDeadline,
			RetryPeriod:     le.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            "portcullis-status",
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: w.lead,
				OnStoppedLeading: func() {},
				OnNewLeader: func(id string) {
					w.logger.Info("status writer leader", "lease", le.Namespace+"/"+le.Name, "leader", id, "self", id == le.Identity)
				},
			},
		})
		if err != nil {
			return err
		}
		// Run returns once leadership is lost; the context it gave lead is cancelled then,
		// and with it every write in flight.
		elector.Run(ctx)
	}
	return nil
}

// lead is the write loop of the leader: the full current set at once, then every new set.
func (w *Writer) lead(ctx context.Context) {
	// client-go starts this in a goroutine of its own: one term's loop may still be
	// returning when the next term starts. They take turns; a stale term sees its
	// context cancelled and returns.
	w.leadMu.Lock()
	defer w.leadMu.Unlock()
	if ctx.Err() != nil {
		return
	}
	w.leading.Store(true)
	w.logger.Info("writing Gateway API statuses")
	if w.opts.OnLeading != nil {
		w.opts.OnLeading(true)
	}
	defer func() {
		w.leading.Store(false)
		w.logger.Info("stopped writing Gateway API statuses")
		if w.opts.OnLeading != nil {
			w.opts.OnLeading(false)
		}
	}()
	w.written, w.owned = map[string]Update{}, map[string]bool{}
	w.discover(ctx)
	var retry <-chan time.Time
	for {
		w.mu.Lock()
		updates, have := w.latest, w.have
		w.mu.Unlock()
		if have && ctx.Err() == nil {
			retry = nil
			if !w.sync(ctx, updates) && ctx.Err() == nil {
				retry = time.After(w.opts.RetryInterval)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.signal:
		case <-retry:
		}
	}
}

// discover finds the routes and policies that carry our entries (a previous leader's
// writes), so that those no longer attached lose them.
func (w *Writer) discover(ctx context.Context) {
	namespaces := w.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	for name, k := range w.kinds {
		if !k.shared() {
			continue
		}
		for _, ns := range namespaces {
			keys, err := k.owned(ctx, w.gw, ns, w.opts.ControllerName)
			if err != nil {
				if !apierrors.IsNotFound(err) && ctx.Err() == nil { // NotFound: CRD not installed
					w.logger.Warn("listing objects that carry our status", "kind", name, "namespace", ns, "err", err)
				}
				continue
			}
			for _, k := range keys {
				w.owned[name+"/"+k] = true
			}
		}
	}
}

func key(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// sync brings the API server in line with updates; false when a write failed and the
// set must be retried.
func (w *Writer) sync(ctx context.Context, updates []Update) bool {
	ok := true
	seen := make(map[string]bool, len(updates))
	for _, u := range updates {
		k := key(u.Kind, u.Namespace, u.Name)
		seen[k] = true
		ops, err := w.opsFor(u)
		if err != nil {
			w.logger.Error("status not written", "kind", u.Kind, "namespace", u.Namespace, "name", u.Name, "err", err)
			continue
		}
		if prev, done := w.written[k]; done && prev.Generation == u.Generation && prev.UID == u.UID && equality.Semantic.DeepEqual(prev.Status, u.Status) {
			continue
		}
		if !w.write(ctx, ops, u.Kind, u.Namespace, u.Name, u.Status) {
			ok = false
			continue
		}
		w.written[k] = u
		if ops.shared() {
			w.owned[k] = true
		}
	}
	// Routes and policies no longer attached to anything of ours: remove our entries.
	stale := make([]string, 0)
	for k := range w.owned {
		if !seen[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		parts := strings.SplitN(k, "/", 3)
		if w.write(ctx, w.kinds[parts[0]], parts[0], parts[1], parts[2], nil) {
			delete(w.owned, k)
			delete(w.written, k)
		} else {
			ok = false
		}
	}
	return ok
}

// write applies one status (nil: remove ours) and logs the outcome; false on failure.
func (w *Writer) write(ctx context.Context, ops kindOps, kind, ns, name string, want any) bool {
	wrote, err := ops.apply(ctx, w, ns, name, want)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			w.logger.Warn("status write failed", "kind", kind, "namespace", ns, "name", name, "err", err)
		}
		return false
	}
	if wrote {
		w.writes.Add(1)
		w.logger.Debug("status written", "kind", kind, "namespace", ns, "name", name, "removed", want == nil)
	}
	return true
}
