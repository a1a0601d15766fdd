package status

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/portcullis/portcullis/internal/testkit"
)

// replica is one writer with its own connection to the API server (through a proxy the
// test can cut, as if the process died or lost the network).
type replica struct {
	w     *Writer
	proxy *testkit.TCPProxy
	stop  context.CancelFunc
	done  chan struct{}
}

func startReplica(t *testing.T, cfg *rest.Config, ns, lease, id string, d time.Duration) *replica {
	t.Helper()
	proxy := testkit.StartProxy(t, strings.TrimPrefix(cfg.Host, "https://"))
	pcfg := rest.CopyConfig(cfg)
	pcfg.Host = "https://" + proxy.Addr()
	pcfg.Timeout = d // a request to a vanished server fails within the renew deadline
	w := NewWriter(gwclient.NewForConfigOrDie(pcfg), WriterOptions{Namespaces: []string{ns},
		RetryInterval: 200 * time.Millisecond,
		LeaderElection: &LeaderElection{Client: kubernetes.NewForConfigOrDie(pcfg), Namespace: ns, Name: lease, Identity: id,
			LeaseDuration: 3 * d, RenewDeadline: 2 * d, RetryPeriod: d / 2}})
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{w: w, proxy: proxy, stop: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// TestLeaderElectionFailover runs two replicas' writers against the real API server:
// only the Lease holder writes, the other publishes the same sets and writes nothing;
// when the leader is cut off from the API server it stops writing before the other takes
// the Lease, which then writes the current set within the lease duration.
func TestLeaderElectionFailover(t *testing.T) {
	cfg := realCluster(t)
	f := newFixture(t, cfg)
	const d = time.Second // retry period d/2, renew deadline 2d, lease 3d
	a := startReplica(t, cfg, f.ns, "portcullis-status", "replica-a", d)
	testkit.Eventually(t, 30*time.Second, "replica-a leading", func() error {
		if !a.w.Leading() {
			return fmt.Errorf("not leading")
		}
		return nil
	})
	b := startReplica(t, cfg, f.ns, "portcullis-status", "replica-b", d)
	publish := func(msg string) {
		us := f.updates(msg, map[string]bool{"r1": true})
		a.w.Publish(us)
		b.w.Publish(us)
	}
	gatewayMessage := func(want string) func() error {
		return func() error {
			g, err := f.gw.GatewayV1().Gateways(f.ns).Get(context.Background(), "gw", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if c := findCondition(g.Status.Conditions, "Accepted"); c == nil || c.Message != want {
				return fmt.Errorf("Gateway Accepted %+v, want message %q", c, want)
			}
			return nil
		}
	}
	publish("v1")
	testkit.Eventually(t, 30*time.Second, "v1 written", gatewayMessage("v1"))
	publish("v2")
	testkit.Eventually(t, 30*time.Second, "v2 written", gatewayMessage("v2"))
	if b.w.Leading() || b.w.Writes() != 0 {
		t.Fatalf("replica-b: leading %v, %d writes; only the leader may write", b.w.Leading(), b.w.Writes())
	}
	lease, err := f.kc.CoordinationV1().Leases(f.ns).Get(context.Background(), "portcullis-status", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "replica-a" {
		t.Fatalf("Lease %s/portcullis-status: %+v, %v; want held by replica-a", f.ns, lease, err)
	}

	// The leader loses the API server (no release of the Lease: as a crash would).
	a.proxy.Stop()
	cut := time.Now()
	publish("v3")
	var aStopped time.Duration
	testkit.Eventually(t, 30*time.Second, "replica-b takes over and writes v3", func() error {
		if aStopped == 0 && !a.w.Leading() {
			aStopped = time.Since(cut)
		}
		if b.w.Leading() && aStopped == 0 {
			t.Errorf("replica-b leads while replica-a still believes it does")
		}
		return gatewayMessage("v3")()
	})
	took := time.Since(cut)
	t.Logf("replica-a stopped writing %v after the cut; replica-b wrote v3 %v after it", aStopped, took)
	if took > 3*d+2*d+5*time.Second { // lease duration + renew/retry slack + a margin for a loaded machine
		t.Errorf("takeover took %v, lease duration is %v", took, 3*d)
	}
	if !b.w.Leading() || b.w.Writes() == 0 {
		t.Errorf("replica-b: leading %v, %d writes", b.w.Leading(), b.w.Writes())
	}
}
