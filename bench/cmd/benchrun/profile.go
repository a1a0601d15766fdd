package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// profile fetches a CPU profile from portcullis's admin listener covering the measured
// window of a loadgen run that starts now (after its warm-up), saves it next to the raw
// results and returns the top of `go tool pprof -top`. It runs beside the loadgen.
func (b *bench) profile(ctx context.Context, kase string) (string, error) {
	t := time.NewTimer(b.o.warmup)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-t.C:
	}
	secs := max(1, int(b.o.duration/time.Second)-1)
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", adminAddr, secs)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Client{Timeout: time.Duration(secs+30) * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(b.o.resultsDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(b.o.resultsDir, stamp(b.res)+"-portcullis-"+kase+".pprof")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", filepath.Join(b.bin, "portcullis"), path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %v: %s", err, tail(out))
	}
	return fmt.Sprintf("(%s)\n%s", path, out), nil
}
