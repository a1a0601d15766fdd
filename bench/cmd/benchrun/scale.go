package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/bench/internal/load"
	"github.com/portcullis/portcullis/bench/internal/pki"
	"github.com/portcullis/portcullis/bench/internal/proc"
	"github.com/portcullis/portcullis/bench/internal/report"
)

// scaleSample is how many hosts, spread over the table, the scale runs send traffic to.
const scaleSample = 16

// scaleSuite serves N hosts, each with its own server certificate and client CA
// certificate (one shared root and intermediate keeps generation fast), on one port.
func (b *bench) scaleSuite(ctx context.Context) {
	for _, n := range b.o.scale {
		dir := filepath.Join(b.work, fmt.Sprintf("scale-%d", n))
		t0 := time.Now()
		hosts, err := scalePKI(dir, n)
		if err != nil {
			b.note(fmt.Sprintf("scale %d: %v", n, err))
			return
		}
		logf("scale %d: PKI in %v", n, time.Since(t0).Round(time.Millisecond))
		sample := make([]string, 0, scaleSample)
		for i := 0; i < scaleSample && i < n; i++ {
			sample = append(sample, hosts[i*n/min(n, scaleSample)])
		}
		for _, t := range b.available() {
			if t == "direct" || ctx.Err() != nil {
				continue
			}
			s := b.scaleOne(ctx, t, dir, hosts, sample)
			logf("scale %d %s: ready %.2fs rss %.0f MiB %s", n, t, s.ReadySeconds, float64(s.RSSBytes)/(1<<20), s.Error)
			b.res.Scale = append(b.res.Scale, s)
		}
	}
}

func (b *bench) scaleOne(ctx context.Context, t, dir string, hosts, sample []string) report.Scale {
	s := report.Scale{Target: t, Hosts: len(hosts)}
	l := b.layout(t+"-scale", hosts, dir, func(string) string { return frontendAddr })
	// Ready when the last host of the table answers: everything before it is loaded too.
	r, err := b.startTarget(ctx, t, l, "", hosts[len(hosts)-1], 3*time.Minute)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer r.stop()
	s.ReadySeconds = r.ready.Seconds()
	s.RSSBytes, _ = proc.RSSSum(r.pids)
	dur := min(b.o.duration, 5*time.Second)
	if s.Handshake, err = b.loadgen(ctx, loadArgs{mode: load.ModeHandshake, conns: b.o.hsConns, hosts: sample, pkiDir: dir, pids: r.pids, duration: dur}); err != nil {
		s.Error = err.Error()
	}
	if s.H1, err = b.loadgen(ctx, loadArgs{mode: load.ModeH1, conns: b.o.h1Conns, hosts: sample, pkiDir: dir, pids: r.pids, duration: dur}); err != nil {
		s.Error = err.Error()
	}
	return s
}

// scalePKI writes n hosts h00000.scale.foocorp.com ... under dir.
func scalePKI(dir string, n int) ([]string, error) {
	root, inter, err := pki.NewCAPair("scale.foocorp.com")
	if err != nil {
		return nil, err
	}
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%05d.scale.foocorp.com", i)
		if _, err := pki.HostWithCA(dir, hosts[i], root, inter); err != nil {
			return nil, err
		}
	}
	return hosts, nil
}
