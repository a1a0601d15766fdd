package app

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/metrics"
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
		name := g.opts.Labels["app"]
		if name == "" {
			name = "portcullis"
		}
		sinks = append(sinks, metrics.NewIstio(reg, metrics.Workload{Name: name, Namespace: g.opts.Namespace}))
	}
	switch len(sinks) {
	case 0:
		return nil, nil
	case 1:
		return sinks[0], nil
	}
	return sinks, nil
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
