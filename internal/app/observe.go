package app

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/tracing"
)

// requestSinks opens the access log and registers Istio's standard metrics as the opts
// ask; nil when neither is on (the data plane then does no per-request work for them).
func (g *gateway) requestSinks(reg prometheus.Registerer) (accesslog.Sink, error) {
	var sinks accesslog.Sinks
	if g.opts.AccessLog != "" {
		f, err := accesslog.ParseFormat(g.opts.AccessLogFormat)
		if err != nil {
			return nil, err
		}
		l, err := accesslog.Open(g.opts.AccessLog, f, 0)
		if err != nil {
			return nil, err
		}
		g.accessLog = l
		g.metrics.AccessLog(l.Written, l.Dropped)
		sinks = append(sinks, l)
	}
	if g.opts.IstioMetrics {
		ist := metrics.NewIstio(reg, metrics.Workload{Name: workloadName(g.opts), Namespace: g.opts.Namespace})
		g.metrics.UseIstio(ist) // L4 streams count in istio_tcp_* too
		g.tel.ist = ist
		sinks = append(sinks, ist)
	}
	switch len(sinks) {
	case 0:
		return nil, nil
	case 1:
		return sinks[0], nil
	}
	return sinks, nil
}

// tracer builds the exporter of request spans; nil when tracing is off.
func (g *gateway) tracer() (*tracing.Tracer, error) {
	o := g.opts
	if o.TracingEndpoint == "" {
		return nil, nil
	}
	host, _ := os.Hostname()
	return tracing.New(context.Background(), tracing.Options{
		Endpoint: o.TracingEndpoint, Protocol: o.TracingProtocol, Sampling: o.TracingSampling,
		Insecure: o.TracingInsecure, ServiceName: workloadName(o), Namespace: o.Namespace,
		NodeID: host,
	})
}

func workloadName(o Options) string {
	if n := o.Labels["app"]; n != "" {
		return n
	}
	return "portcullis"
}

// reopenOnSignal reopens the access log on SIGUSR1 (after logrotate moved it).
func (g *gateway) reopenOnSignal(ctx context.Context) error {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
			if err := g.accessLog.Reopen(); err != nil {
				g.logger.Error("access log reopen failed", "path", g.opts.AccessLog, "error", err)
			} else {
				g.logger.Info("access log reopened", "path", g.opts.AccessLog)
			}
		}
	}
}

// closeAccessLog flushes the access log once the data plane has drained.
func (g *gateway) closeAccessLog() {
	if g.accessLog != nil {
		_ = g.accessLog.Close()
	}
}

// stopTracing exports the spans still buffered (bounded) once the data plane drained.
func (g *gateway) stopTracing() {
	if g.tracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.tracing.Shutdown(ctx); err != nil {
		g.logger.Warn("tracing: spans not exported at shutdown", "error", err)
	}
}
