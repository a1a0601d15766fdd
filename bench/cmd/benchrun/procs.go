package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/bench/internal/peers"
	"github.com/portcullis/portcullis/bench/internal/proc"
)

// running is a started target or backend.
type running struct {
	name  string
	cmd   *exec.Cmd
	pids  []int // charged for CPU and RSS (the process and, for nginx, its workers)
	ready time.Duration
	log   string
	done  chan struct{}
}

// pinned returns argv run on core (taskset) at the given nice level (0 = unchanged).
func pinned(core string, nice int, argv ...string) []string {
	out := []string{"taskset", "-c", core}
	if nice != 0 {
		out = append([]string{"nice", "-n", strconv.Itoa(nice)}, out...)
	}
	return append(out, argv...)
}

// start runs p pinned to core and waits until check succeeds (polling with a deadline).
func start(ctx context.Context, p *peers.Peer, core string, nice int, logDir string, deadline time.Duration, check func(context.Context) error) (*running, error) {
	logPath := filepath.Join(logDir, p.Name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	argv := pinned(core, nice, p.Argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.Name, err)
	}
	r := &running{name: p.Name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); close(r.done) }()
	if err := waitReady(ctx, r, p.ReadyURL, deadline, check); err != nil {
		r.stop()
		return nil, fmt.Errorf("%s not ready: %w (log %s)", p.Name, err, logPath)
	}
	r.ready = time.Since(t0)
	r.pids = []int{cmd.Process.Pid}
	if p.Workers {
		kids, _ := proc.Children(cmd.Process.Pid)
		r.pids = append(r.pids, kids...)
	}
	return r, nil
}

func waitReady(ctx context.Context, r *running, url string, deadline time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	hc := &http.Client{Timeout: time.Second}
	var last error
	for {
		select {
		case <-r.done:
			return errors.New("exited")
		case <-ctx.Done():
			return fmt.Errorf("after %v: %v", deadline, last)
		case <-tick.C:
		}
		if url != "" {
			resp, err := hc.Get(url)
			if err != nil {
				last = err
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				last = fmt.Errorf("%s: %s", url, resp.Status)
				continue
			}
		}
		if last = check(ctx); last == nil {
			return nil
		}
	}
}

// stop ends the process this runner started (by its pid): SIGTERM, then SIGKILL after
// 5 s; workers it forked are killed by pid if they outlive it.
func (r *running) stop() {
	if r == nil || r.cmd.Process == nil {
		return
	}
	kids, _ := proc.Children(r.cmd.Process.Pid)
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
	for _, k := range kids {
		if syscall.Kill(k, 0) == nil {
			syscall.Kill(k, syscall.SIGKILL)
		}
	}
}

// tlsGet is a readiness check: one mutual-TLS request to addr for host must answer 200.
func tlsGet(cfg *tls.Config, addr, host string) func(context.Context) error {
	return func(ctx context.Context) error {
		tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/", nil)
		resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET https://%s/: %s", host, resp.Status)
		}
		return nil
	}
}
