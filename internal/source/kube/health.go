package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// health tracks whether the API server is reachable. A failing list or watch marks it
// down at once (the informers then retry with backoff by themselves); a periodic probe
// notices losses the informers keep quiet about, and the return. The gateway keeps serving the last bundle meanwhile: nothing is
// published while informers cannot reach the server.
type health struct {
	report func(bool)
	logger *slog.Logger

	mu    sync.Mutex
	known bool // set at least once
	up    bool
}

// set records the state, logging and reporting transitions only.
func (h *health) set(up bool, cause error) {
	h.mu.Lock()
	changed := !h.known || h.up != up
	h.known, h.up = true, up
	if changed {
		if up {
			h.logger.Info("kubernetes API server reachable")
		} else {
			h.logger.Warn("kubernetes API server unreachable; informers keep retrying, the last known configuration stays in service", "err", cause)
		}
		if h.report != nil {
			h.report(up)
		}
	}
	h.mu.Unlock()
}

func (h *health) isUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.known && h.up
}

// watchError is every informer's WatchErrorHandler (it replaces client-go's klog one).
// Normal watch ends (EOF, expired resource versions) are not failures.
func (h *health) watchError(r *cache.Reflector, err error) {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		h.logger.Debug("watch closed", "reflector", r.TypeDescription(), "err", err)
		return
	}
	h.logger.Debug("watch failed; the informer retries", "reflector", r.TypeDescription(), "err", err)
	h.set(false, err)
}

// run probes the API server every interval until ctx is done. Watches alone do not tell:
// when a watch breaks the informers re-watch with backoff and report nothing while the
// connection is refused, so the probe is what notices a loss, and a return.
func (h *health) run(ctx context.Context, interval time.Duration, probe func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := probe(ctx)
		if ctx.Err() != nil {
			return
		}
		h.set(err == nil, err)
	}
}
