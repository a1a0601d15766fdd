package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/portcullis/portcullis/internal/diag"
)

// lookupStub finds the objects it lists.
type lookupStub map[string]*corev1.ObjectReference

func (l lookupStub) ObjectReference(kind, ns, name string) (*corev1.ObjectReference, bool) {
	r, ok := l[kind+"/"+ns+"/"+name]
	return r, ok
}

func TestEventPublisher(t *testing.T) {
	noLeaks(t)
	kc := kubefake.NewClientset()
	gw := &corev1.ObjectReference{Kind: "Gateway", APIVersion: "networking.istio.io/v1", Namespace: "default", Name: "foocorp-gateway", UID: "u1"}
	p := NewEventPublisher(kc, lookupStub{"Gateway/default/foocorp-gateway": gw}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	conflict := diag.Diagnostic{Severity: diag.Error, Kind: "Gateway", Namespace: "default", Name: "foocorp-gateway",
		Field: "spec.servers[1]", Message: "conflicts with server 0"}
	ds := []diag.Diagnostic{
		conflict,
		{Severity: diag.Warning, Kind: "Gateway", Namespace: "default", Name: "foocorp-gateway", Message: "no hosts bound"},
		{Severity: diag.Error, Kind: "Gateway", Namespace: "default", Name: "foocorp-gateway", File: "gw.yaml", Message: "from a file"},
		{Severity: diag.Error, Kind: "Secret", Namespace: "istio-system", Name: "missing", Message: "not found"},
		{Severity: diag.Error, Message: "no object"},
	}
	p.PublishDiagnostics(ds)
	p.PublishDiagnostics(ds) // still there: not posted again

	type ev struct{ Reason, Type, Message, Kind, Name, UID string }
	want := []ev{
		{"ConfigError", "Warning", conflict.String(), "Gateway", "foocorp-gateway", "u1"},
		{"ConfigWarning", "Warning", "warning: Gateway default/foocorp-gateway: no hosts bound", "Gateway", "foocorp-gateway", "u1"},
	}
	var got []ev
	eventually(t, 5*time.Second, func() string {
		list, err := kc.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		got = nil
		for _, e := range list.Items {
			got = append(got, ev{e.Reason, e.Type, e.Message, e.InvolvedObject.Kind, e.InvolvedObject.Name, string(e.InvolvedObject.UID)})
			if e.Count > 1 {
				return "event posted twice: " + e.Message
			}
		}
		if len(got) < len(want) {
			return "waiting for events"
		}
		return ""
	})
	less := func(a, b ev) bool { return strings.Compare(a.Reason, b.Reason) < 0 }
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(less)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
