package kube

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/portcullis/portcullis/internal/diag"
)

// Event reasons.
const (
	ReasonConfigError   = "ConfigError"
	ReasonConfigWarning = "ConfigWarning"
)

// ObjectLookup finds an object in the cluster by kind, namespace and name and returns a
// reference to it (with its UID, which `kubectl describe` matches events on). Source
// implements it from its informer caches.
type ObjectLookup interface {
	ObjectReference(kind, namespace, name string) (*corev1.ObjectReference, bool)
}

// EventPublisher posts diagnostics as Kubernetes Events on the objects they concern. The
// client-go EventBroadcaster's correlator aggregates repeats into a count and rate-limits
// per object; on top of that a diagnostic still present at the next publish is not
// posted again until ReemitAfter has passed, so a steady problem does not keep writing.
type EventPublisher struct {
	lookup      ObjectLookup
	logger      *slog.Logger
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	clock       func() time.Time
	reemitAfter time.Duration

	mu   sync.Mutex
	sent map[string]time.Time // diagnostic key -> last posted
}

// NewEventPublisher starts an event broadcaster writing through client. Call Run to stop
// it when done.
func NewEventPublisher(client kubernetes.Interface, lookup ObjectLookup, logger *slog.Logger) *EventPublisher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname() // the pod name in a pod
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return &EventPublisher{
		lookup:      lookup,
		logger:      logger.With("component", "events"),
		broadcaster: b,
		recorder:    b.NewRecorder(runtime.NewScheme(), corev1.EventSource{Component: "portcullis", Host: host}),
		clock:       time.Now,
		reemitAfter: 30 * time.Minute,
		sent:        map[string]time.Time{},
	}
}

// Run waits for ctx to end, then shuts the broadcaster down (events still queued are
// dropped). It returns nil.
func (p *EventPublisher) Run(ctx context.Context) error {
	<-ctx.Done()
	p.broadcaster.Shutdown()
	return nil
}

// PublishDiagnostics posts an event for every diagnostic about an object that exists in
// the cluster (File == "" and found by the lookup); others are skipped. The message is the
// diagnostic's String(), the line `portcullis validate` prints.
func (p *EventPublisher) PublishDiagnostics(ds []diag.Diagnostic) {
	now := p.clock()
	p.mu.Lock()
	defer p.mu.Unlock()
	current := make(map[string]bool, len(ds))
	for _, d := range ds {
		if d.File != "" || d.Kind == "" || d.Name == "" {
			continue
		}
		ref, ok := p.lookup.ObjectReference(d.Kind, d.Namespace, d.Name)
		if !ok {
			continue
		}
		msg := d.String()
		key := string(ref.UID) + "\x00" + string(d.Severity) + "\x00" + msg
		current[key] = true
		if last, seen := p.sent[key]; seen && now.Sub(last) < p.reemitAfter {
			continue
		}
		p.sent[key] = now
		reason := ReasonConfigWarning
		if d.Severity == diag.Error {
			reason = ReasonConfigError
		}
		p.logger.Debug("posting event", "kind", ref.Kind, "namespace", ref.Namespace, "name", ref.Name, "reason", reason)
		p.recorder.Event(ref, corev1.EventTypeWarning, reason, msg)
	}
	// Forget what was fixed, so that it is posted again if it comes back.
	for key := range p.sent {
		if !current[key] {
			delete(p.sent, key)
		}
	}
}
