package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// State is what the admin endpoints show.
type State interface {
	// Ready reports whether the gateway is serving, and if not, why.
	Ready() (bool, string)
	// ConfigDump returns the active snapshot, diagnostics and credential status (redacted).
	ConfigDump() any
	// Certs returns the status of every credential (redacted).
	Certs() any
}

// Options configure the admin server.
type Options struct {
	Addr     string
	Pprof    bool
	Gatherer prometheus.Gatherer
}

// Server is the admin HTTP server.
type Server struct {
	opts   Options
	state  State
	logger *slog.Logger
	ln     net.Listener
	srv    *http.Server
}

// New builds the server; Listen binds it.
func New(opts Options, state State, logger *slog.Logger) *Server {
	s := &Server{opts: opts, state: state, logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz/ready", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /config_dump", s.jsonHandler(state.ConfigDump))
	mux.HandleFunc("GET /certs", s.jsonHandler(state.Certs))
	if ex, ok := state.(Explainer); ok { // explain.go, ui.go
		mux.HandleFunc("GET /explain", s.explain(ex))
		mux.HandleFunc("POST /explain", s.explain(ex))
	}
	s.ui(mux)
	if opts.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Listen binds the admin address (so callers learn bind errors before serving).
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.logger.Info("admin listening", "addr", s.ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		// A request still running after the grace period (a long /debug/pprof/profile, a
		// stalled /metrics reader) would outlive Run: cut it.
		_ = s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	ok, why := s.state.Ready()
	if !ok {
		http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) jsonHandler(get func() any) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(get()); err != nil {
			s.logger.Warn("admin encode failed", "err", err)
		}
	}
}
