package load

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// maxSamples bounds the latency samples one worker keeps (4 bytes each); beyond it the
// requests still count, only their latency is not sampled.
const maxSamples = 1 << 20

type workerStats struct {
	micros   []uint32
	errors   map[string]int64
	timeline []timelineRec // Config.Timeline only
}

// timelineRec is one measured request of the timeline: intended send time (Unix ns), µs
// from it to the write (-1: not known) and to the complete answer.
type timelineRec struct {
	at         int64
	sent, done int32
}

// writeTimeline writes every worker's timeline records to path, in order of intended time.
func writeTimeline(path string, stats []*workerStats) error {
	var all []timelineRec
	for _, ws := range stats {
		all = append(all, ws.timeline...)
	}
	slices.SortFunc(all, func(a, b timelineRec) int { return cmp.Compare(a.at, b.at) })
	var b []byte
	b = append(b, "at_unix_ns,sent_us,done_us\n"...)
	for _, t := range all {
		b = strconv.AppendInt(b, t.at, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(t.sent), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(t.done), 10)
		b = append(b, '\n')
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("load: timeline: %w", err)
	}
	return nil
}

func (ws *workerStats) record(d time.Duration) {
	if len(ws.micros) < maxSamples {
		us := d.Microseconds()
		if us > 1<<32-1 {
			us = 1<<32 - 1
		}
		ws.micros = append(ws.micros, uint32(us))
	}
}

func summarize(cfg Config, stats []*workerStats, elapsed time.Duration) *Result {
	res := &Result{Mode: cfg.Mode, Conns: cfg.Conns, Seconds: elapsed.Seconds(), Errors: map[string]int64{}}
	if cfg.Mode == ModeH2 || cfg.Mode == ModeGRPC {
		res.Streams = cfg.Streams
	}
	var all []uint32
	for _, ws := range stats {
		all = append(all, ws.micros...)
		for k, v := range ws.errors {
			res.Errors[k] += v
		}
	}
	res.Requests = int64(len(all))
	if elapsed > 0 {
		res.ReqPerSec = float64(res.Requests) / elapsed.Seconds()
	}
	if len(all) == 0 {
		return res
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		i := int(p*float64(len(all))+0.5) - 1
		i = max(0, min(i, len(all)-1))
		return float64(all[i]) / 1000
	}
	res.Latency = Latency{P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: float64(all[len(all)-1]) / 1000}
	return res
}

// kind classifies an error for the errors-by-kind report. stage is where it happened
// ("dial", "tls", "write", "read").
func kind(stage string, err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return stage + "_timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return stage + "_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return stage + "_reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return stage + "_too_many_files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return stage + "_no_local_port"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return stage + "_eof"
	}
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return stage + "_alert"
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return stage + "_bad_server_cert"
	}
	return stage + "_other"
}

func statusKind(code int) string { return "status_" + strconv.Itoa(code) }
