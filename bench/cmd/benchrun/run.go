package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/load"
	"github.com/portcullis/portcullis/bench/internal/peers"
	"github.com/portcullis/portcullis/bench/internal/pki"
	"github.com/portcullis/portcullis/bench/internal/policy"
	"github.com/portcullis/portcullis/bench/internal/report"
)

// Loopback addresses of the run.
const (
	listenAddr   = "127.0.0.1:18443"
	adminAddr    = "127.0.0.1:18000"
	frontendAddr = "127.0.0.1:19001"
	inventAddr   = "127.0.0.1:19002"
)

type bench struct {
	o                      options
	root, work, bin, logs  string
	portcullis, nginx, hap string
	pkiDir                 string
	hosts                  []string
	backendPID             int
	res                    *report.Results
}

func run(ctx context.Context, o options) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return errors.New("run from the repository root (go run ./bench/cmd/benchrun)")
	}
	for _, a := range []string{listenAddr, adminAddr, frontendAddr, inventAddr} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("address %s is busy: %w", a, err)
		}
		ln.Close()
	}
	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "portcullis-bench-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(work)
		}
	}
	b := &bench{o: o, root: root, work: work, bin: filepath.Join(work, "bin"), logs: filepath.Join(work, "logs"),
		hosts: []string{backend.FrontendHost, backend.InventoryHost}, pkiDir: filepath.Join(work, "pki")}
	b.res = &report.Results{Started: time.Now(), Quick: o.quick, Policy: map[string][]policy.Case{}, StartupS: map[string]float64{},
		Settings: map[string]any{"rounds": o.rounds, "duration": o.duration.String(), "warmup": o.warmup.String(),
			"h1Conns": o.h1Conns, "h2Conns": o.h2Conns, "h2Streams": o.streams, "handshakeConns": o.hsConns,
			"hold": o.hold, "upstreamPool": o.pool, "nice": o.nice}}
	if err := os.MkdirAll(b.logs, 0o755); err != nil {
		return err
	}
	if !o.noInstall {
		if err := ensurePackages(ctx, logf); err != nil {
			return err
		}
	}
	b.nginx, b.hap = lookBin("nginx"), lookBin("haproxy")
	logf("building into %s", b.bin)
	pc, why, err := build(ctx, root, b.bin)
	if err != nil {
		return err
	}
	b.portcullis = pc
	if pc == "" && has(o.targets, "portcullis") {
		b.note("portcullis not measured: " + why)
	}
	b.res.Machine = machine(ctx, root, b.nginx, b.hap)
	if err := b.makePKI(ctx); err != nil {
		return err
	}
	be, err := start(ctx, &peers.Peer{Name: "backend", Argv: []string{filepath.Join(b.bin, "backend"), "-listen", frontendAddr + "," + inventAddr},
		Env: []string{"GOMAXPROCS=1"}}, "1", o.nice, b.logs, 10*time.Second, httpGet("http://"+frontendAddr+"/"))
	if err != nil {
		return err
	}
	defer be.stop()
	b.backendPID = be.cmd.Process.Pid

	b.checkPolicies(ctx)
	if has(o.suites, "throughput") || has(o.suites, "hold") {
		b.throughput(ctx)
	}
	if has(o.suites, "rate") {
		b.rateSuite(ctx)
	}
	if has(o.suites, "backends") {
		b.backendsSuite(ctx)
	}
	if has(o.suites, "scale") {
		b.scaleSuite(ctx)
	}
	if has(o.suites, "rotation") {
		b.rotationSuite(ctx)
	}
	b.res.Finished = time.Now()
	return write(o, b.res)
}

func (b *bench) note(s string) {
	logf("note: %s", s)
	b.res.Notes = append(b.res.Notes, s)
}

// makePKI writes the walkthrough PKI, with `portcullis certs` when it exists.
func (b *bench) makePKI(ctx context.Context) error {
	if hasCertsCmd(ctx, b.portcullis) {
		args := []string{"certs", "--dir", b.pkiDir}
		for _, h := range b.hosts {
			args = append(args, "--host", h)
		}
		out, err := exec.CommandContext(ctx, b.portcullis, args...).CombinedOutput()
		if err == nil {
			if _, err := os.Stat(pki.PathsFor(b.pkiDir, b.hosts[0]).ClientKey); err == nil {
				logf("PKI from portcullis certs")
				return nil
			}
		}
		b.note(fmt.Sprintf("portcullis certs did not produce the walkthrough layout (%v: %s); using the harness's own PKI", err, tail(out)))
	}
	for _, h := range b.hosts {
		if _, err := pki.Host(b.pkiDir, h); err != nil {
			return err
		}
	}
	return nil
}

// layout is the walkthrough layout for target name.
func (b *bench) layout(name string, hosts []string, pkiDir string, upstream func(string) string) peers.Layout {
	up := map[string]string{}
	for _, h := range hosts {
		up[h] = upstream(h)
	}
	return peers.Layout{Dir: filepath.Join(b.work, "targets", name), PKI: pkiDir, Hosts: hosts, Upstream: up,
		Listen: listenAddr, Admin: adminAddr, Pool: b.o.pool}
}

func walkthroughUpstream(h string) string {
	if h == backend.InventoryHost {
		return inventAddr
	}
	return frontendAddr
}

// peer configures target name for l.
func (b *bench) peer(name string, l peers.Layout, credDir string) (*peers.Peer, error) {
	os.RemoveAll(l.Dir)
	switch name {
	case "portcullis":
		if b.portcullis == "" {
			return nil, errors.New("portcullis binary not available")
		}
		return peers.Portcullis(l, b.portcullis, credDir, b.o.profile)
	case "nginx":
		return peers.Nginx(l, b.nginx)
	case "haproxy":
		return peers.HAProxy(l, b.hap)
	case "direct":
		return peers.Direct(l, filepath.Join(b.bin, "backend")), nil
	}
	for _, bl := range b.o.baselines {
		if bl.name == name {
			p, err := peers.Portcullis(l, bl.bin, credDir, false)
			if p != nil {
				p.Name = name
			}
			return p, err
		}
	}
	if name == "baseline" {
		return nil, errors.New("target baseline needs -baseline BINARY")
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// startTarget configures and starts name on core 0 and waits until host answers.
func (b *bench) startTarget(ctx context.Context, name string, l peers.Layout, credDir, host string, deadline time.Duration) (*running, error) {
	p, err := b.peer(name, l, credDir)
	if err != nil {
		return nil, err
	}
	tc, err := load.ClientTLS(l.PKI, host)
	if err != nil {
		return nil, err
	}
	return start(ctx, p, "0", b.o.nice, b.logs, deadline, tlsGet(tc, listenAddr, host))
}

func (b *bench) available() []string {
	var out []string
	for _, t := range b.o.targets {
		if t == "portcullis" && b.portcullis == "" {
			continue
		}
		out = append(out, t)
	}
	return out
}

func (b *bench) checkPolicies(ctx context.Context) {
	for _, t := range b.available() {
		r, err := b.startTarget(ctx, t, b.layout(t, b.hosts, b.pkiDir, walkthroughUpstream), "", b.hosts[0], 30*time.Second)
		if err != nil {
			b.note(fmt.Sprintf("%s: %v", t, err))
			continue
		}
		b.res.StartupS[t] = r.ready.Seconds()
		cs, err := policy.Check(ctx, listenAddr, b.pkiDir, b.hosts[0], b.hosts[1])
		r.stop()
		if err != nil {
			b.note(fmt.Sprintf("%s: policy check: %v", t, err))
			continue
		}
		b.res.Policy[t] = cs
		if !policy.OK(cs) {
			b.note(fmt.Sprintf("%s FAILS the policy probes (see the table): its figures are not comparable", t))
		}
		logf("%s: policy ok=%v, ready in %v", t, policy.OK(cs), r.ready)
	}
}
