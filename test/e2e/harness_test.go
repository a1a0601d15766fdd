package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testkit"
)

// bin is the real binary, built once per test process.
var bin testkit.Binary

// portcullisBin returns the path of the built binary.
func portcullisBin(t *testing.T) string { return bin.Path(t) }

// repoFile returns the path of a file in the repository.
func repoFile(parts ...string) string {
	return filepath.Join(append([]string{testkit.RepoRoot()}, parts...)...)
}

// run runs the binary to completion and returns combined output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := portcullisBin(t) // built (once) before the 60 s budget starts
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// freePort returns a currently free 127.0.0.1 port.
func freePort(t *testing.T) int { return testkit.FreePort(t) }

// gateway is a running `portcullis run` process.
type gateway struct {
	cmd    *exec.Cmd
	admin  string
	logs   *testkit.SyncBuffer
	exited chan error
}

// startGateway runs `portcullis run` with args plus an admin address, and waits until ready.
func startGateway(t *testing.T, args ...string) *gateway {
	t.Helper()
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// The kernel may hand out a port the test already took for one of the gateway's
	// listeners (it was closed when freePort returned): pick again until it differs.
	for strings.Contains(strings.Join(args, " ")+" ", admin+" ") {
		admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	g := &gateway{admin: admin, logs: &testkit.SyncBuffer{}, exited: make(chan error, 1)}
	g.cmd = exec.Command(portcullisBin(t), append([]string{"run", "--admin", admin}, args...)...)
	g.cmd.Stdout = g.logs
	g.cmd.Stderr = g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.exited <- g.cmd.Wait() }()
	t.Cleanup(func() {
		g.stop(t)
		if t.Failed() {
			t.Logf("gateway logs:\n%s", g.logs.String())
		}
	})
	eventually(t, 20*time.Second, "gateway ready", func() error {
		select {
		case err := <-g.exited:
			g.exited <- err
			return fmt.Errorf("gateway exited: %v\n%s", err, g.logs.String())
		default:
		}
		resp, err := http.Get("http://" + admin + "/healthz/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	return g
}

// stop sends SIGTERM and waits for exit (bounded).
func (g *gateway) stop(t *testing.T) error {
	if g.cmd.Process == nil {
		return nil
	}
	_ = g.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-g.exited:
		g.exited <- err
		return err
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		return fmt.Errorf("gateway did not exit within 15s")
	}
}

// eventually polls f until it returns nil or d passes (see testkit.Eventually).
func eventually(t testing.TB, d time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	return testkit.Eventually(t, d, what, f)
}

// sh runs a shell tool (curl, openssl) and returns stdout, stderr and the exit code.
func sh(t *testing.T, dir string, name string, args ...string) (string, string, int) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (.ci/run installs it): %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Stdin = strings.NewReader("")
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return stdout.String(), stderr.String(), code
}

func itoa(n int) string { return fmt.Sprint(n) }
