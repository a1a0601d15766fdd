package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/portcullis/portcullis/internal/resources"
)

// Default debounce timings: reload after 100 ms without events, or 1 s after the first.
const (
	DefaultQuiet   = 100 * time.Millisecond
	DefaultMaxWait = time.Second
)

// Watcher loads the configuration, publishes it, and reloads and republishes it whenever
// a file in a watched directory changes. Create it with NewWatcher and call Run once.
type Watcher struct {
	opts    Options
	publish func(*resources.Bundle)
	logger  *slog.Logger

	mu           sync.Mutex
	extra        []string
	extraChanged chan struct{}
}

// NewWatcher returns a Watcher for opts. publish receives every complete bundle: the
// first load, then one per settled burst of changes; it is called from Run's goroutine
// only and must not block for long. A nil logger discards logs.
func NewWatcher(opts Options, publish func(*resources.Bundle), logger *slog.Logger) (*Watcher, error) {
	if publish == nil {
		return nil, errors.New("file watcher: publish callback is required")
	}
	if len(opts.Paths) == 0 && opts.CredentialsDir == "" {
		return nil, errors.New("file watcher: no configuration paths or credentials directory")
	}
	if opts.Quiet <= 0 {
		opts.Quiet = DefaultQuiet
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{opts: opts, publish: publish, logger: logger, extraChanged: make(chan struct{}, 1)}, nil
}

// SetExtraFiles replaces the set of extra files to watch: files the configuration refers
// to but the bundle does not contain, such as the certificate, key and CA paths of
// file-mounted Gateway TLS. A change to one calls OnFilesChanged. Safe to call from any
// goroutine, before or during Run.
func (w *Watcher) SetExtraFiles(paths []string) {
	w.mu.Lock()
	w.extra = append([]string(nil), paths...)
	w.mu.Unlock()
	select {
	case w.extraChanged <- struct{}{}:
	default:
	}
}

func (w *Watcher) extraFiles() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.extra
}

// Run loads and publishes the configuration, then watches until ctx is done (it then
// returns nil). A configuration path that does not exist at start is an error. Later, if
// a path vanishes, the last published bundle stays in force until it is back.
func (w *Watcher) Run(ctx context.Context) error {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("file watcher: %w", err)
	}
	defer fsw.Close()
	first, err := load(w.opts, nil)
	if err != nil {
		return err
	}
	st := &watchState{fsw: fsw, logger: w.logger}
	st.sync(w.opts, first.dirs, w.extraFiles())
	var last loaded
	if first.unchanged() {
		// Nothing changed between the load and the watches being in place: serve it.
		w.published(first.bundle)
		last = loaded{dirs: first.dirs, good: first.good}
	} else {
		// Files changed (or directories appeared) before they were watched: load again.
		last = w.reload(st, first)
	}

	var (
		timer        = time.NewTimer(time.Hour)
		timerC       <-chan time.Time // nil while nothing is pending
		burstStart   time.Time
		reload       bool
		changedFiles = map[string]bool{}
	)
	timer.Stop()
	defer timer.Stop()
	arm := func() {
		now := time.Now()
		if timerC == nil {
			burstStart = now
		}
		wait := min(w.opts.Quiet, burstStart.Add(w.opts.MaxWait).Sub(now))
		timer.Reset(max(wait, 0))
		timerC = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fsw.Events:
			if !ok {
				return nil
			}
			r, files := st.classify(ev)
			for _, f := range files {
				changedFiles[f] = true
			}
			if r || len(files) > 0 {
				w.logger.Debug("file event", "event", ev.String())
				reload = reload || r
				arm()
			}
		case err, ok := <-fsw.Errors:
			if !ok {
				return nil
			}
			// Typically an inotify queue overflow: events were lost, so reload everything.
			w.logger.Warn("file watch error; reloading", "error", err)
			reload = true
			arm()
		case <-w.extraChanged:
			st.sync(w.opts, last.dirs, w.extraFiles())
		case <-timerC:
			timerC = nil
			if reload {
				reload = false
				last = w.reload(st, last)
			}
			if len(changedFiles) > 0 {
				// The files' directories may have been created or swapped: re-aim the watches.
				st.sync(w.opts, last.dirs, w.extraFiles())
				if w.opts.OnFilesChanged != nil {
					w.opts.OnFilesChanged(sortedUnique(keys(changedFiles)))
				}
			}
			clear(changedFiles)
		}
	}
}

// reload loads the configuration, brings the watches in line with the directories it
// read, and publishes it. If it had to watch new directories it loads again, so that a
// file written into a new directory before the watch was added is not missed. prev is
// returned when the load fails (a path vanished): prev.bundle is published if it has one
// (the initial load), else nothing. It returns what the next reload needs (directories
// and the files' last good versions, without a bundle).
func (w *Watcher) reload(st *watchState, prev loaded) loaded {
	l := prev
	for range 3 {
		next, err := load(w.opts, prev.good)
		if err != nil {
			w.logger.Error("configuration not reloaded; keeping the last one", "error", err)
			if prev.bundle != nil {
				w.publish(prev.bundle) // the first load, which did succeed
			}
			return loaded{dirs: prev.dirs, good: prev.good}
		}
		l = next
		if !st.sync(w.opts, l.dirs, w.extraFiles()) {
			break
		}
	}
	w.published(l.bundle)
	return loaded{dirs: l.dirs, good: l.good}
}

// published logs what a load found and publishes it.
func (w *Watcher) published(b *resources.Bundle) {
	w.logger.Info("configuration loaded", "gateways", len(b.Gateways), "virtualServices", len(b.VirtualServices),
		"destinationRules", len(b.DestinationRules), "serviceEntries", len(b.ServiceEntries), "services", len(b.Services), "endpointSlices", len(b.EndpointSlices),
		"secrets", len(b.Secrets), "diagnostics", len(b.Diagnostics))
	w.publish(b)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
