package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/portcullis/portcullis/internal/source/kube"
	"github.com/portcullis/portcullis/internal/status"
)

// DefaultLeaseName is the Lease the replicas of a gateway compete for to write Gateway
// API statuses.
const DefaultLeaseName = "portcullis-status"

// statusDefaults fills the status writer's options (Kubernetes mode only).
func statusDefaults(o *Options) error {
	if o.GatewayControllerName == "" {
		o.GatewayControllerName = status.DefaultControllerName
	}
	if o.LeaseName == "" {
		o.LeaseName = DefaultLeaseName
	}
	if o.LeaseNamespace == "" {
		o.LeaseNamespace = o.Namespace
	}
	if o.LeaderIdentity == "" {
		o.LeaderIdentity = os.Getenv("POD_NAME")
	}
	if o.LeaderIdentity == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		o.LeaderIdentity = host + "_" + hex.EncodeToString(b)
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.LeaseDuration, 15 * time.Second}, {&o.RenewDeadline, 10 * time.Second}, {&o.RetryPeriod, 2 * time.Second}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	// client-go's own constraints (it would refuse to start the election otherwise).
	if o.LeaderElect && (o.LeaseDuration <= o.RenewDeadline || float64(o.RenewDeadline) <= 1.2*float64(o.RetryPeriod)) {
		return fmt.Errorf("leader election: want lease duration (%v) > renew deadline (%v) > 1.2 x retry period (%v)",
			o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
	}
	return nil
}

// newStatusWriter builds the Kubernetes Sink of Gateway API statuses (Options.StatusSink
// unless one was given): the leader of the Lease writes them (every replica when leader
// election is off).
func newStatusWriter(o *Options, ko kube.Options, src *kube.Source, g *gateway) (*status.Writer, error) {
	if err := statusDefaults(o); err != nil {
		return nil, err
	}
	cfg, err := kube.RESTConfig(ko)
	if err != nil {
		return nil, err
	}
	c, err := gwclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	wo := status.WriterOptions{
		ControllerName: gwv1.GatewayController(o.GatewayControllerName),
		Namespaces:     o.WatchNamespaces,
		Logger:         g.logger,
	}
	if o.LeaderElect {
		wo.LeaderElection = &status.LeaderElection{Client: src.Client(), Namespace: o.LeaseNamespace, Name: o.LeaseName,
			Identity: o.LeaderIdentity, LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod}
	}
	return status.NewWriter(c, wo), nil
}

// runStatus writes statuses until ctx ends. Serving never depends on it: a failure is
// logged, never returned (which would stop the gateway).
func (g *gateway) runStatus(ctx context.Context) error {
	if err := g.kube.status.Run(ctx); err != nil {
		g.logger.Error("Gateway API status writer stopped", "err", err)
	}
	return nil
}
