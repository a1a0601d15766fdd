package app

import (
	"sync"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// telemetryState is what the Telemetry resources of the applied snapshots turned on: an
// access log to stdout (opened the first time one enables it, kept open after) and the
// tracing sampling percentage.
type telemetryState struct {
	mu       sync.Mutex
	ist      accesslog.Sink    // Istio's standard metrics (--istio-metrics), nil when off
	stdout   *accesslog.Logger // the access log a Telemetry enabled; nil until then
	on       bool              // the access log of a Telemetry is on
	sampling float64           // the sampling percentage set on the tracer
}

// applyTelemetry makes the data plane and the tracer do what t (the snapshot's Telemetry,
// nil: none) says. The flags win where they are set: with --access-log the access log is
// the flag's, whatever a Telemetry says.
func (g *gateway) applyTelemetry(t *snapshot.Telemetry) {
	var want snapshot.Telemetry
	if t != nil {
		want = *t
	}
	s := &g.tel
	s.mu.Lock()
	defer s.mu.Unlock()
	if on := want.AccessLog != nil && *want.AccessLog; g.accessLog == nil && on != s.on {
		if on && s.stdout == nil {
			l, err := accesslog.Open(accesslog.Stdout, accesslog.Text, 0)
			if err != nil {
				g.logger.Error("access log to stdout not opened", "error", err)
				return
			}
			s.stdout = l
			g.metrics.AccessLog(l.Written, l.Dropped)
		}
		s.on = on
		var sinks accesslog.Sinks
		if on {
			sinks = append(sinks, s.stdout)
		}
		if s.ist != nil {
			sinks = append(sinks, s.ist)
		}
		switch len(sinks) {
		case 0:
			g.dp.SetRequests(nil)
		case 1:
			g.dp.SetRequests(sinks[0])
		default:
			g.dp.SetRequests(sinks)
		}
		g.logger.Info("access log set by Telemetry", "on", on, "path", accesslog.Stdout)
	}
	if g.tracing != nil {
		p := g.opts.TracingSampling
		if want.Sampling != nil {
			p = *want.Sampling
		}
		if p != s.sampling {
			if err := g.tracing.SetSampling(p); err != nil {
				g.logger.Error("tracing sampling not set", "error", err)
				return
			}
			s.sampling = p
			g.logger.Info("tracing sampling set", "percent", p)
		}
	}
}

// telemetryDiagnostics are the findings on t that depend on the flags.
func telemetryDiagnostics(t *snapshot.Telemetry, o Options) []diag.Diagnostic {
	var ds []diag.Diagnostic
	if t == nil {
		return nil
	}
	if t.Sampling != nil && o.TracingEndpoint == "" {
		ds = append(ds, diag.Diagnostic{Severity: diag.Warning, Kind: "Telemetry", Field: "spec.tracing",
			Message: "randomSamplingPercentage has no effect: tracing has no exporter (set --tracing-endpoint)"})
	}
	if t.AccessLog != nil && o.AccessLog != "" {
		ds = append(ds, diag.Diagnostic{Severity: diag.Warning, Kind: "Telemetry", Field: "spec.accessLogging",
			Message: "no effect: --access-log is set and wins over Telemetry accessLogging"})
	}
	return ds
}

// closeTelemetryLog flushes the access log a Telemetry opened, once the data plane drained.
func (g *gateway) closeTelemetryLog() {
	g.tel.mu.Lock()
	defer g.tel.mu.Unlock()
	if g.tel.stdout != nil {
		_ = g.tel.stdout.Close()
	}
}
