package store

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/resources"
)

// Default debounce timings, from the architecture: settle after 100 ms of quiet, but never
// hold a change back for more than 1 s while a source keeps publishing.
const (
	DefaultQuiet   = 100 * time.Millisecond
	DefaultMaxWait = time.Second
)

// Option configures a Store.
type Option func(*Store)

// WithDebounce sets the quiet period and the longest a change may be held back.
func WithDebounce(quiet, maxWait time.Duration) Option {
	return func(s *Store) { s.quiet, s.maxWait = quiet, maxWait }
}

// WithRequiredSources holds back the first delivery until every named source has
// published at least once, so that the gateway never serves a half-loaded configuration
// (for example files loaded but Kubernetes informers not yet synced).
func WithRequiredSources(names ...string) Option {
	return func(s *Store) { s.required = append(s.required, names...) }
}

// Store merges the bundles of several sources. Create it with New, call Run once, and
// Publish from any goroutine.
type Store struct {
	logger   *slog.Logger
	onChange func(*resources.Bundle)
	quiet    time.Duration
	maxWait  time.Duration
	required []string

	mu      sync.Mutex
	latest  map[string]*resources.Bundle
	changed chan struct{} // capacity 1: "something was published since you last looked"

	evaluated atomic.Int64 // merges evaluated (delivered or suppressed); for tests
}

// New returns a Store that calls onChange with each new merged bundle. A nil logger
// discards logs.
func New(logger *slog.Logger, onChange func(*resources.Bundle), opts ...Option) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		logger:   logger,
		onChange: onChange,
		quiet:    DefaultQuiet,
		maxWait:  DefaultMaxWait,
		latest:   map[string]*resources.Bundle{},
		changed:  make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Publish records b as the complete current state of source, replacing what it published
// before. It never blocks. b must not be modified afterwards; a nil b publishes an empty
// bundle (the source has nothing, e.g. its directory is empty).
func (s *Store) Publish(source string, b *resources.Bundle) {
	if b == nil {
		b = &resources.Bundle{}
	}
	s.mu.Lock()
	s.latest[source] = b
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Run delivers merged bundles until ctx is done; it then returns nil. Call it once.
func (s *Store) Run(ctx context.Context) error {
	var lastHash string
	delivered := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.changed:
		}
		if !s.settle(ctx) {
			return nil
		}
		merged, ok := s.merge()
		s.evaluated.Add(1)
		if !ok {
			continue
		}
		h := Hash(merged)
		if delivered && h == lastHash {
			s.logger.Debug("configuration unchanged", "hash", h)
			continue
		}
		lastHash, delivered = h, true
		s.logger.Info("configuration changed", "hash", h, "diagnostics", len(merged.Diagnostics))
		s.onChange(merged)
	}
}

// settle waits until no publish has happened for the quiet period, or maxWait has passed
// since the first one. It returns false if ctx ended first.
func (s *Store) settle(ctx context.Context) bool {
	deadline := time.NewTimer(s.maxWait)
	defer deadline.Stop()
	quiet := time.NewTimer(s.quiet)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return true
		case <-quiet.C:
			return true
		case <-s.changed:
			quiet.Reset(s.quiet)
		}
	}
}

// merge combines the latest bundle of every source in source-name order. It reports false
// while a required source has not published yet.
func (s *Store) merge() (*resources.Bundle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.required {
		if _, ok := s.latest[name]; !ok {
			s.logger.Debug("waiting for source", "source", name)
			return nil, false
		}
	}
	names := make([]string, 0, len(s.latest))
	for name := range s.latest {
		names = append(names, name)
	}
	sort.Strings(names)
	merged := &resources.Bundle{}
	for _, name := range names {
		merged.Append(s.latest[name])
	}
	return merged, true
}
