package app

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"
	"k8s.io/klog/v2"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/source/kube"
	"github.com/portcullis/portcullis/internal/status"
	"github.com/portcullis/portcullis/internal/store"
)

// kubeSourceName is the store's name for the Kubernetes source.
const kubeSourceName = "kubernetes"

// kubeParts are the Kubernetes-mode components; both nil when not watching a cluster.
type kubeParts struct {
	source *kube.Source
	events *kube.EventPublisher
	status *status.Writer // Gateway API statuses (status.go)
}

func kubeEnabled(o Options) bool { return o.Kubeconfig != "" || o.InCluster }

// setupKube builds the Kubernetes source (publishing into the store) and the event
// publisher when o asks for a cluster.
func (gw *Gateway) setupKube(o Options) error {
	if !kubeEnabled(o) {
		return nil
	}
	g := gw.g
	// client-go logs through klog, a process-wide logger: send it to ours so that its
	// lines (watch errors, retries) share our format and destination.
	klog.SetSlogLogger(g.logger.With("component", "client-go"))
	ko := kube.Options{
		Kubeconfig:      o.Kubeconfig,
		Context:         o.KubeContext,
		InCluster:       o.InCluster,
		Namespace:       o.Namespace,
		RootNamespace:   o.RootNamespace,
		WatchNamespaces: o.WatchNamespaces,
		// Gateway API statuses are written only for what the Gateway API watch reads.
		DisableGatewayAPI: o.DisableGatewayAPI,
		PublishService:    o.GatewayPublishService,
		Up:                func(up bool) { g.metrics.SourceUp(kubeSourceName, up) },
	}
	src, err := kube.New(ko, func(b *resources.Bundle) { gw.st.Publish(kubeSourceName, b) }, g.logger)
	if err != nil {
		return err
	}
	var sw *status.Writer
	if !o.DisableGatewayAPI {
		if sw, err = newStatusWriter(&o, ko, src, g); err != nil {
			return err
		}
	}
	g.kube = kubeParts{source: src, events: kube.NewEventPublisher(src.Client(), src, g.logger), status: sw}
	if g.opts.StatusSink == nil && sw != nil {
		g.opts.StatusSink = sw
	}
	return nil
}

// kubeStoreOptions: with a cluster, the store delivers nothing until the informers have
// synced (and the files, if any, are loaded), so a half-loaded state is never served.
func kubeStoreOptions(o Options) []store.Option {
	names := []string{kubeSourceName}
	if len(o.ConfigPaths) > 0 || o.CredentialsDir != "" {
		names = append(names, "files")
	}
	return []store.Option{store.WithRequiredSources(names...)}
}

// runKube starts the Kubernetes components under eg.
func (g *gateway) runKube(ctx context.Context, eg *errgroup.Group) {
	if g.kube.source == nil {
		return
	}
	eg.Go(func() error { return g.kube.source.Run(ctx) })
	eg.Go(func() error { return g.kube.events.Run(ctx) })
	if g.kube.status != nil {
		eg.Go(func() error { return g.runStatus(ctx) })
	}
}

// kubeSynced is false while the Kubernetes informers have not completed their first list.
func (g *gateway) kubeSynced() bool { return g.kube.source == nil || g.kube.source.Synced() }

// publishEvents posts the current diagnostics as Kubernetes Events on the objects they
// concern (deduplicated and rate-limited by the publisher).
func (g *gateway) publishEvents(ds []diag.Diagnostic) {
	if g.kube.events == nil {
		return
	}
	creds := g.creds.Diagnostics()
	g.mu.Lock()
	snap := g.snap
	g.mu.Unlock()
	all := append(append([]diag.Diagnostic(nil), ds...), creds...)
	all = append(all, gatewayCredentialDiagnostics(snap, creds)...)
	g.kube.events.PublishDiagnostics(all)
}

// gatewayCredentialDiagnostics restates credential problems, which the credential store
// reports on the Secret (that may well not exist: "secret not found"), on every Gateway
// whose servers use that Secret, so that `kubectl describe gateway` shows them too.
func gatewayCredentialDiagnostics(snap *snapshot.Snapshot, creds []diag.Diagnostic) []diag.Diagnostic {
	if snap == nil {
		return nil
	}
	servers := map[string][]string{} // Secret "ns/name" -> server names "gw-ns/gw-name/port"
	for _, l := range snap.Listeners {
		for _, srv := range l.Servers {
			if srv.TLS != nil && srv.TLS.Credential.Secret != "" {
				servers[srv.TLS.Credential.Secret] = append(servers[srv.TLS.Credential.Secret], srv.Name)
			}
		}
	}
	var out []diag.Diagnostic
	for _, d := range creds {
		if d.Kind != "Secret" || d.File != "" {
			continue
		}
		for _, name := range servers[d.Namespace+"/"+d.Name] {
			parts := strings.SplitN(name, "/", 3)
			if len(parts) != 3 {
				continue
			}
			msg := fmt.Sprintf("server %s: credentialName %q (Secret %s/%s", parts[2], d.Name, d.Namespace, d.Name)
			if d.Field != "" {
				msg += " " + d.Field
			}
			out = append(out, diag.Diagnostic{Severity: d.Severity, Kind: "Gateway", Namespace: parts[0],
				Name: parts[1], Message: msg + "): " + d.Message})
		}
	}
	return out
}
