package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/load"
	"github.com/portcullis/portcullis/bench/internal/peers"
	"github.com/portcullis/portcullis/bench/internal/pki"
	"github.com/portcullis/portcullis/bench/internal/policy"
	"github.com/portcullis/portcullis/bench/internal/report"
)

// The backends suite's upstream (its own process on core 1) and its certificate's name.
const (
	upTLSAddr    = "127.0.0.1:19003"
	upGRPCAddr   = "127.0.0.1:19004"
	upCountsAddr = "127.0.0.1:19005"
	upstreamHost = "upstream.bench.internal"
)

// Cases of the backends suite.
const (
	caseUpTLS = "upstream-tls"
	caseGRPC  = "grpc"
)

// backendsSuite measures what issue 12 added on the way to the backend, every proxy in
// the same interleaved rounds: the walkthrough's h1 load with the upstream reached over
// TLS (the upstream closes a connection after -upstream-conn-requests requests, so
// resumed handshakes are part of the cost; the upstream counts them per case), and gRPC
// unary calls over TLS/ALPN h2 to an h2c gRPC backend. A target must pass its probes
// first; a case with any failed request or call is reported as failed, not measured.
func (b *bench) backendsSuite(ctx context.Context) {
	upki := filepath.Join(b.work, "upstream-pki")
	if _, err := pki.Host(upki, upstreamHost); err != nil {
		b.note("backends suite: " + err.Error())
		return
	}
	for _, a := range []string{upTLSAddr, upGRPCAddr, upCountsAddr} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			b.note(fmt.Sprintf("backends suite: address %s is busy: %v", a, err))
			return
		}
		ln.Close()
	}
	up, err := start(ctx, &peers.Peer{Name: "upstream", Env: []string{"GOMAXPROCS=1"},
		Argv: []string{filepath.Join(b.bin, "backend"), "-upstream-tls", upTLSAddr, "-upstream-pki", upki, "-upstream-host", upstreamHost,
			"-conn-requests", strconv.Itoa(b.o.upConnRequests), "-grpc", upGRPCAddr, "-counts", upCountsAddr}},
		"1", b.o.nice, b.logs, 10*time.Second, httpGet("http://"+upCountsAddr+"/counts"))
	if err != nil {
		b.note("backends suite: " + err.Error())
		return
	}
	defer up.stop()
	b.res.Settings["upstreamConnRequests"] = b.o.upConnRequests
	b.res.Settings["grpcConns"], b.res.Settings["grpcStreams"] = b.o.grpcConns, b.o.grpcStreams
	layouts := map[string]func(t string) peers.Layout{
		caseUpTLS: func(t string) peers.Layout {
			l := b.layout(t+"-"+caseUpTLS, b.hosts, b.pkiDir, func(string) string { return upTLSAddr })
			l.UpstreamTLS = &peers.UpstreamTLS{CA: pki.PathsFor(upki, upstreamHost).Chain, SNI: upstreamHost}
			return l
		},
		caseGRPC: func(t string) peers.Layout {
			l := b.layout(t+"-"+caseGRPC, b.hosts, b.pkiDir, walkthroughUpstream)
			l.GRPC = &peers.GRPCRoute{Path: backend.GRPCMethod, Addr: upGRPCAddr}
			return l
		},
	}
	cases := []string{caseUpTLS, caseGRPC}
	var ts []string
	for _, t := range b.available() {
		if t != "direct" { // the direct floor proxies nothing
			ts = append(ts, t)
		}
	}
	passed := map[string]bool{}
	for _, t := range ts {
		for _, c := range cases {
			passed[t+" "+c] = b.backendsPolicy(ctx, t, c, layouts[c](t))
		}
	}
	for round := 0; round < b.o.rounds && ctx.Err() == nil; round++ {
		for i := range ts {
			t := ts[(i+round)%len(ts)]
			for _, c := range cases {
				if !passed[t+" "+c] {
					b.res.Runs = append(b.res.Runs, report.Run{Round: round, Target: t, Case: c, Error: "failed its probes: not measured"})
					continue
				}
				b.res.Runs = append(b.res.Runs, b.backendsCase(ctx, round, t, c, layouts[c](t), up.cmd.Process.Pid))
			}
		}
	}
}

// backendsPolicy starts t for case c and runs the walkthrough probes (and, for gRPC, the
// gRPC probes); it reports whether every probe got what it wanted.
func (b *bench) backendsPolicy(ctx context.Context, t, c string, l peers.Layout) bool {
	if b.res.PolicyBackends == nil {
		b.res.PolicyBackends = map[string][]policy.Case{}
	}
	r, err := b.startTarget(ctx, t, l, "", b.hosts[0], 30*time.Second)
	if err != nil {
		b.note(fmt.Sprintf("%s %s: %v", t, c, err))
		return false
	}
	defer r.stop()
	cs, err := policy.Check(ctx, listenAddr, b.pkiDir, b.hosts[0], b.hosts[1])
	if err == nil && c == caseGRPC {
		var g []policy.Case
		g, err = policy.CheckGRPC(ctx, listenAddr, b.pkiDir, b.hosts[0])
		cs = append(cs, g...)
	}
	if err != nil {
		b.note(fmt.Sprintf("%s %s: policy check: %v", t, c, err))
		return false
	}
	b.res.PolicyBackends[t+" "+c] = cs
	ok := policy.OK(cs)
	if !ok {
		b.note(fmt.Sprintf("%s %s FAILS its probes (see the table): not measured", t, c))
	}
	logf("%s %s: policy ok=%v", t, c, ok)
	return ok
}

// backendsCase measures one case of t in a fresh process, with the upstream's counts.
func (b *bench) backendsCase(ctx context.Context, round int, t, c string, l peers.Layout, upPID int) report.Run {
	run := report.Run{Round: round, Target: t, Case: c}
	r, err := b.startTarget(ctx, t, l, "", b.hosts[0], 30*time.Second)
	if err != nil {
		run.Error = err.Error()
		return run
	}
	defer r.stop()
	if _, err := upstreamCounts(ctx, true); err != nil {
		run.Error = err.Error()
		return run
	}
	a := loadArgs{mode: load.ModeH1, conns: b.o.h1Conns, hosts: b.hosts, pkiDir: b.pkiDir, pids: r.pids, aux: upPID}
	if c == caseGRPC {
		a.mode, a.conns, a.streams = load.ModeGRPC, b.o.grpcConns, b.o.grpcStreams
	}
	res, err := b.loadgen(ctx, a)
	run.Result = res
	if err != nil {
		run.Error = err.Error()
		logf("round %d %s %s: %v", round, t, c, err)
		return run
	}
	if run.Upstream, err = upstreamCounts(ctx, true); err != nil {
		run.Error = err.Error()
		return run
	}
	var errs []string
	for k, n := range res.Errors {
		errs = append(errs, fmt.Sprintf("%s=%d", k, n))
	}
	if len(errs) > 0 {
		run.Error = "failed requests: " + strings.Join(errs, ", ")
	}
	u := run.Upstream
	logf("round %d %s %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %.1f µs CPU/req, upstream handshakes %d full %d resumed, errors %v",
		round, t, c, res.ReqPerSec, res.Latency.P50, res.Latency.P99, res.CPUPerReq, u.HandshakesFull, u.HandshakesResumed, res.Errors)
	return run
}

// upstreamCounts reads (and with reset, zeroes) the backends suite upstream's counts.
func upstreamCounts(ctx context.Context, reset bool) (*backend.Counts, error) {
	url := "http://" + upCountsAddr + "/counts"
	if reset {
		url += "?reset=1"
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("upstream counts: %w", err)
	}
	defer resp.Body.Close()
	var c backend.Counts
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return nil, fmt.Errorf("upstream counts: %w", err)
	}
	return &c, nil
}
