package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/resources"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gw returns a bundle with one Gateway whose only host is host; each call allocates anew.
func gw(host string) *resources.Bundle {
	return &resources.Bundle{Gateways: []resources.Gateway{{
		Meta: resources.Meta{Namespace: "default", Name: "gw"},
		Spec: &networking.Gateway{Servers: []*networking.Server{{Hosts: []string{host}}}},
	}}}
}

// hosts lists the first host of every gateway in b, in order.
func hosts(b *resources.Bundle) []string {
	var out []string
	for _, g := range b.Gateways {
		out = append(out, g.Spec.Servers[0].Hosts[0])
	}
	return out
}

// recorder collects deliveries; gate, when set, blocks each delivery until released.
type recorder struct {
	mu   sync.Mutex
	got  [][]string
	gate chan struct{}
}

func (r *recorder) onChange(b *resources.Bundle) {
	r.mu.Lock()
	r.got = append(r.got, hosts(b))
	gate := r.gate
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
}

func (r *recorder) snapshot() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.got...)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// start runs s until the test ends.
func start(t *testing.T, s *Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestBurstCoalesces(t *testing.T) {
	r := &recorder{}
	s := New(nil, r.onChange, WithDebounce(200*time.Millisecond, 5*time.Second))
	start(t, s)
	for i := range 50 {
		s.Publish("files", gw(string(rune('a'+i%26))))
	}
	s.Publish("files", gw("last"))
	eventually(t, "delivery", func() bool { return len(r.snapshot()) > 0 })
	eventually(t, "evaluation", func() bool { return s.evaluated.Load() >= 1 })
	if diff := cmp.Diff([][]string{{"last"}}, r.snapshot()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

func TestMaxWaitBoundsDelay(t *testing.T) {
	r := &recorder{}
	s := New(nil, r.onChange, WithDebounce(time.Hour, 50*time.Millisecond))
	start(t, s)
	s.Publish("files", gw("a"))
	// The quiet period never ends; only maxWait can release the change.
	eventually(t, "delivery despite no quiet", func() bool { return len(r.snapshot()) == 1 })
}

func TestNoOpSuppressed(t *testing.T) {
	r := &recorder{}
	s := New(nil, r.onChange, WithDebounce(time.Millisecond, 10*time.Millisecond))
	start(t, s)
	s.Publish("files", gw("a"))
	eventually(t, "first delivery", func() bool { return len(r.snapshot()) == 1 })
	// Same content in freshly allocated messages: evaluated, not delivered.
	s.Publish("files", gw("a"))
	eventually(t, "second evaluation", func() bool { return s.evaluated.Load() == 2 })
	s.Publish("files", gw("b"))
	eventually(t, "third evaluation", func() bool { return s.evaluated.Load() == 3 })
	if diff := cmp.Diff([][]string{{"a"}, {"b"}}, r.snapshot()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

func TestLatestWins(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	s := New(nil, r.onChange, WithDebounce(time.Millisecond, 10*time.Millisecond))
	start(t, s)
	s.Publish("files", gw("a"))
	eventually(t, "first delivery", func() bool { return len(r.snapshot()) == 1 })
	// onChange is blocked in delivery of "a"; b is superseded by c before it can be sent.
	s.Publish("files", gw("b"))
	s.Publish("files", gw("c"))
	r.gate <- struct{}{}
	eventually(t, "second delivery", func() bool { return len(r.snapshot()) == 2 })
	close(r.gate)
	if diff := cmp.Diff([][]string{{"a"}, {"c"}}, r.snapshot()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

func TestMergeInSourceOrderAndRequiredSources(t *testing.T) {
	r := &recorder{}
	s := New(nil, r.onChange, WithDebounce(time.Millisecond, 10*time.Millisecond), WithRequiredSources("kubernetes", "files"))
	start(t, s)
	s.Publish("kubernetes", gw("k"))
	eventually(t, "evaluation", func() bool { return s.evaluated.Load() == 1 })
	if got := r.snapshot(); len(got) != 0 {
		t.Fatalf("delivered %v before every required source published", got)
	}
	s.Publish("files", gw("f"))
	eventually(t, "delivery", func() bool { return len(r.snapshot()) == 1 })
	s.Publish("files", nil) // the files source became empty
	eventually(t, "second delivery", func() bool { return len(r.snapshot()) == 2 })
	if diff := cmp.Diff([][]string{{"f", "k"}, {"k"}}, r.snapshot()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

func TestCancelStopsRun(t *testing.T) {
	s := New(nil, func(*resources.Bundle) { t.Error("unexpected delivery") }, WithDebounce(time.Hour, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	s.Publish("files", gw("a")) // Run is now waiting in the debounce
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
