package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/portcullis/portcullis/bench/internal/load"
	"github.com/portcullis/portcullis/bench/internal/peers"
	"github.com/portcullis/portcullis/bench/internal/pki"
	"github.com/portcullis/portcullis/bench/internal/report"
)

// rotationSuite measures portcullis's certificate rotation: the frontend credential in a
// --credentials-dir secret volume is replaced (kubelet-style atomic ..data swap) and new
// handshakes are made back to back until one presents the new serial.
func (b *bench) rotationSuite(ctx context.Context) {
	if b.portcullis == "" || !has(b.o.targets, "portcullis") {
		return
	}
	help, _ := exec.CommandContext(ctx, b.portcullis, "run", "--help").CombinedOutput()
	if !strings.Contains(string(help), "credentials-dir") {
		b.note("rotation not measured: portcullis run has no --credentials-dir")
		return
	}
	rot := report.Rotation{Target: "portcullis", Method: "--credentials-dir, ..data symlink swap"}
	if err := b.rotate(ctx, &rot); err != nil {
		rot.Error = err.Error()
	}
	rot.P50 = report.Percentile(rot.SamplesMs, 0.50)
	rot.P99 = report.Percentile(rot.SamplesMs, 0.99)
	rot.Max = report.Percentile(rot.SamplesMs, 1)
	logf("rotation: %d samples p50 %.1f ms p99 %.1f ms failures %d %s", len(rot.SamplesMs), rot.P50, rot.P99, rot.Failures, rot.Error)
	b.res.Rotation = append(b.res.Rotation, rot)
}

func (b *bench) rotate(ctx context.Context, rot *report.Rotation) error {
	dir := filepath.Join(b.work, "rotation")
	pkiDir, credDir := filepath.Join(dir, "pki"), filepath.Join(dir, "credentials")
	var inter *pki.CA
	for _, h := range b.hosts {
		root, in, err := pki.NewCAPair(h)
		if err != nil {
			return err
		}
		if _, err := pki.HostWithCA(pkiDir, h, root, in); err != nil {
			return err
		}
		if h == b.hosts[0] {
			inter = in
		}
	}
	l := b.layout("portcullis-rotation", b.hosts, pkiDir, walkthroughUpstream)
	r, err := b.startTarget(ctx, "portcullis", l, credDir, b.hosts[0], 30*time.Second)
	if err != nil {
		return err
	}
	defer r.stop()
	host := b.hosts[0]
	tc, err := load.ClientTLS(pkiDir, host)
	if err != nil {
		return err
	}
	p := pki.PathsFor(pkiDir, host)
	vol := filepath.Join(credDir, strings.NewReplacer(".", "-").Replace(host)+"-credential")
	for i := 0; i < b.o.rotations && ctx.Err() == nil; i++ {
		serial, err := pki.ReissueServer(p.ServerCert, p.ServerKey, host, inter)
		if err != nil {
			return err
		}
		files := map[string][]byte{}
		for k, path := range map[string]string{"cert": p.ServerCert, "key": p.ServerKey, "cacert": p.Chain} {
			if files[k], err = os.ReadFile(path); err != nil {
				return err
			}
		}
		t0 := time.Now()
		if err := peers.WriteVolume(vol, files); err != nil {
			return err
		}
		seen, err := waitSerial(ctx, tc, serial, 10*time.Second)
		if err != nil {
			rot.Failures++
			continue
		}
		rot.SamplesMs = append(rot.SamplesMs, float64(seen.Sub(t0).Microseconds())/1000)
	}
	return nil
}

// waitSerial handshakes back to back until the server presents serial; it returns when
// the first handshake that did completed.
func waitSerial(ctx context.Context, tc *tls.Config, serial *big.Int, deadline time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	for ctx.Err() == nil {
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", listenAddr)
		if err != nil {
			continue
		}
		c := tls.Client(raw, tc)
		err = c.HandshakeContext(ctx)
		if err == nil {
			if certs := c.ConnectionState().PeerCertificates; len(certs) > 0 && certs[0].SerialNumber.Cmp(serial) == 0 {
				c.Close()
				return time.Now(), nil
			}
		}
		c.Close()
	}
	return time.Time{}, fmt.Errorf("new serial not served within %v", deadline)
}
