package app

import (
	"context"
	"fmt"
	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/tracing"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/authz/engine"
	"github.com/portcullis/portcullis/internal/credential"
	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/gatewayapi"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/source/file"
	"github.com/portcullis/portcullis/internal/status"
	"github.com/portcullis/portcullis/internal/store"
)

// gateway holds the running components and the state the admin endpoints show.
type gateway struct {
	opts    Options
	logger  *slog.Logger
	metrics *metrics.Metrics
	creds   *credential.Store
	dp      *dataplane.Dataplane
	authz   *engine.Runtime
	watcher *file.Watcher
	kube    kubeParts // Kubernetes mode (kube.go)
	// accessLog is the access log, nil when off (observe.go).
	accessLog *accesslog.Logger
	tracing   *tracing.Tracer // nil when off
	tel       telemetryState  // what Telemetry resources set (telemetry.go)

	mu          sync.Mutex
	snap        *snapshot.Snapshot
	translated  []diag.Diagnostic // bundle + translation of the current snapshot
	diagnostics []diag.Diagnostic // translated + Secret conflicts
	refs        []snapshot.CredentialRef
	applied     bool
	updateErr   error             // the last dataplane Update's error (a port that could not be bound)
	cfgHash     string            // store.Hash of the last bundle without its Secrets
	gwStatus    []status.Update   // Gateway API status of the current snapshot
	gwapi       gatewayapi.Result // its translation, to attribute credential findings
}

// Run runs the gateway until ctx is cancelled, then drains and returns.
func Run(ctx context.Context, o Options, logger *slog.Logger) error {
	gw, err := New(o, logger)
	if err != nil {
		return err
	}
	return gw.Run(ctx)
}

// Gateway is a gateway built by New: its admin listener is bound, nothing else runs
// until Run. Embedders and tests use it to learn bound addresses (ports given as
// "127.0.0.1:0").
type Gateway struct {
	g   *gateway
	st  *store.Store
	adm *admin.Server
}

// New builds every component from o and binds the admin listener. Call Run once.
func New(o Options, logger *slog.Logger) (*Gateway, error) {
	o.Defaults()
	if o.GatewayPublishService != "" && !kubeEnabled(o) {
		return nil, fmt.Errorf("--gateway-publish-service reads a Service: it needs Kubernetes mode (--kubeconfig or --in-cluster)")
	}
	reg := prometheus.NewRegistry()
	g := &gateway{opts: o, logger: logger, metrics: metrics.New(reg)}
	g.creds = credential.New(logger, time.Now, g.metrics)
	az, err := engine.NewRuntime(engine.RuntimeOptions{
		TrustedHops: o.TrustedProxies, JWKSCAFile: o.JWKSCAFile, JWKSRefresh: o.JWKSRefresh,
		Logger: logger.With("component", "authz"), Observer: g.metrics.Authz(),
	})
	if err != nil {
		return nil, err
	}
	g.authz = az
	requests, err := g.requestSinks(reg) // observe.go
	if err != nil {
		return nil, err
	}
	if g.tracing, err = g.tracer(); err != nil {
		return nil, err
	}
	g.tel.sampling = o.TracingSampling
	var tr dataplane.Tracer
	if g.tracing != nil {
		tr = g.tracing
	}
	g.dp = dataplane.New(dataplane.Options{
		Requests:            requests,
		Tracer:              tr,
		Authz:               az,
		PortMap:             o.PortMap,
		ListenHost:          o.ListenHost,
		ReadHeaderTimeout:   o.ReadHeaderTimeout,
		IdleTimeout:         o.IdleTimeout,
		MaxHeaderBytes:      o.MaxHeaderBytes,
		DrainTimeout:        o.DrainTimeout,
		StreamIdleTimeout:   o.StreamIdleTimeout,
		RequestTimeout:      o.RequestTimeout,
		TLS13SessionTickets: o.TLS13SessionTickets,
		L4Accept:            o.L4Accept,
		ProxyProtocol:       downstreamProxyProtocol(o),
	}, credentialView{g.creds}, g.metrics, logger)
	g.creds.OnChange(g.dp.CredentialsChanged)
	g.metrics.WatchConnections(func(emit func(port uint32, open, parked int)) {
		for _, c := range g.dp.Connections() {
			emit(c.Port, c.Open, c.Parked)
		}
	})

	gw := &Gateway{g: g, st: store.New(logger, g.apply, storeOptions(o)...)}
	if len(o.ConfigPaths) > 0 || o.CredentialsDir != "" {
		w, err := file.NewWatcher(file.Options{
			Paths:          o.ConfigPaths,
			CredentialsDir: o.CredentialsDir,
			Namespace:      o.Namespace,
			// File-mount TLS material is read by the credential store, not the bundle: a
			// change there re-reads it without re-translating anything.
			OnFilesChanged: func([]string) { g.creds.Resync() },
		}, func(b *resources.Bundle) { gw.st.Publish("files", b) }, logger)
		if err != nil {
			return nil, err
		}
		g.watcher = w
	}
	if err := gw.setupKube(o); err != nil {
		return nil, err
	}
	if o.AdminAddr != "" {
		gw.adm = admin.New(admin.Options{Addr: o.AdminAddr, Pprof: o.Pprof, Gatherer: reg}, g, logger)
		if err := gw.adm.Listen(); err != nil {
			return nil, fmt.Errorf("admin listener %s: %w", o.AdminAddr, err)
		}
	}
	return gw, nil
}

// storeOptions: the file watcher already debounces its bursts (100 ms quiet, 1 s at
// most), so when it is the only source a second 100 ms quiet period in the store would
// only double the time from a file write to the change being served. Sources that do not
// debounce themselves (Kubernetes informers) keep the store's default.
func storeOptions(o Options) []store.Option {
	if kubeEnabled(o) {
		return kubeStoreOptions(o)
	}
	return []store.Option{store.WithDebounce(time.Millisecond, store.DefaultMaxWait)}
}

// Addr is the bound address of a Gateway server port, nil while it is not listening.
func (gw *Gateway) Addr(port uint32) net.Addr { return gw.g.dp.Addr(port) }

// AdminAddr is the bound admin address, nil without an admin listener.
func (gw *Gateway) AdminAddr() net.Addr {
	if gw.adm == nil {
		return nil
	}
	return gw.adm.Addr()
}

// Run runs the gateway until ctx is cancelled, then drains and returns.
func (gw *Gateway) Run(ctx context.Context) error {
	g := gw.g
	eg, ctx := errgroup.WithContext(ctx)
	if g.watcher != nil {
		eg.Go(func() error { return g.watcher.Run(ctx) })
	}
	g.runKube(ctx, eg)
	eg.Go(func() error { return gw.st.Run(ctx) })
	eg.Go(func() error { return g.dp.Run(ctx) })
	eg.Go(func() error { return g.recheckCredentials(ctx) })
	if gw.adm != nil {
		eg.Go(func() error { return gw.adm.Run(ctx) })
	}
	if g.accessLog != nil {
		eg.Go(func() error { return g.reopenOnSignal(ctx) })
	}
	err := eg.Wait()
	g.closeAccessLog()
	g.closeTelemetryLog()
	g.stopTracing()
	g.authz.Close()
	g.logger.Info("gateway stopped")
	return err
}

// recheckCredentials re-evaluates the credentials every CredentialRecheck even when no
// input changed: a certificate that was not yet valid becomes servable, expiry gauges stay
// current, and file mounts whose change fsnotify could not report are re-read.
func (g *gateway) recheckCredentials(ctx context.Context) error {
	t := time.NewTicker(g.opts.CredentialRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			g.creds.Resync()
		}
	}
}

// apply is the store's callback: translate the latest bundle, sync credentials, swap the
// snapshot into the dataplane.
func (g *gateway) apply(b *resources.Bundle) {
	gwapi := gatewayAPI(b, g.opts) // Gateway API objects become Istio ones (gatewayapi.go)
	b = gwapi.Bundle
	// Secrets do not feed the translator: when only they changed, keep the snapshot and
	// push the new credentials to the listeners without re-translating routes.
	cfg := *b
	cfg.Secrets = nil
	cfgHash := store.Hash(&cfg)
	g.mu.Lock()
	snap, translated := g.snap, g.translated
	sameConfig := snap != nil && cfgHash == g.cfgHash
	g.mu.Unlock()
	secrets, secretDiags := secretData(b)
	if !sameConfig {
		snap, translated = translateWith(b, g.opts, gwapi.HTTP2Hosts)
		translated = gwapi.Attribute(translated)
	}
	ds := append(append([]diag.Diagnostic(nil), translated...), secretDiags...)
	ds = append(ds, telemetryDiagnostics(snap.Telemetry, g.opts)...)
	refs := credentialRefs(snap)
	if g.watcher != nil {
		g.watcher.SetExtraFiles(mountedFiles(refs))
	}
	g.creds.SyncSnapshot(snap, secrets)

	g.mu.Lock()
	prev := g.snap
	g.snap, g.translated, g.diagnostics, g.refs, g.cfgHash = snap, translated, ds, refs, cfgHash
	g.mu.Unlock()

	g.applyTelemetry(snap.Telemetry) // telemetry.go
	var updateErr error
	if prev != nil && prev.Version == snap.Version {
		g.metrics.Reload("unchanged")
	} else if updateErr = g.dp.Update(snap); updateErr != nil {
		g.logger.Error("snapshot not fully applied", "version", snap.Version, "err", updateErr)
		g.metrics.Reload("failed")
	} else {
		g.logger.Info("snapshot applied", "version", snap.Version,
			"listeners", len(snap.Listeners), "clusters", len(snap.Clusters), "diagnostics", len(ds))
		g.metrics.Reload("applied")
		g.metrics.SnapshotSwapped(snap.Version)
	}
	if !sameConfig {
		for _, d := range ds {
			g.logger.Warn("config diagnostic", "severity", string(d.Severity), "detail", d.String())
		}
	}
	g.mu.Lock()
	g.applied = true
	g.updateErr = updateErr
	g.mu.Unlock()
	g.updateDiagnosticMetrics()
	g.publishEvents(ds)
	g.publishStatus(gwapi)
}

func (g *gateway) updateDiagnosticMetrics() {
	g.mu.Lock()
	all := append(append([]diag.Diagnostic(nil), g.diagnostics...), g.creds.Diagnostics()...)
	g.mu.Unlock()
	var e, w int
	for _, d := range all {
		if d.Severity == diag.Error {
			e++
		} else {
			w++
		}
	}
	g.metrics.Diagnostics(e, w)
}
