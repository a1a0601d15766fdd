// Package e2ekube replays the secure-ingress walkthrough on a real Kubernetes API server
// (hack/kube/up.sh): kubectl exactly as written, backends behind Services and
// EndpointSlices in a network namespace, and `portcullis run --kubeconfig` processes
// driven with curl and openssl. The tests skip unless KUBECONFIG and PORTCULLIS_KUBE_BIN
// are set (PORTCULLIS_KUBE=1 hack/test.sh sets both).
package e2ekube

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testkit"
)

// cluster is the test control plane.
type cluster struct {
	kubeconfig string
	kubectlBin string
}

// needCluster skips the test unless the control plane and root (for network namespaces)
// are available.
func needCluster(t *testing.T) *cluster {
	t.Helper()
	kc, bin := os.Getenv("KUBECONFIG"), os.Getenv("PORTCULLIS_KUBE_BIN")
	if kc == "" || bin == "" {
		t.Skip("needs the test control plane: set KUBECONFIG and PORTCULLIS_KUBE_BIN " +
			"(PORTCULLIS_KUBE=1 hack/test.sh does, or see hack/kube/README.md)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create the network namespace holding the backends (hack/kube/netns.sh)")
	}
	return &cluster{kubeconfig: kc, kubectlBin: filepath.Join(bin, "kubectl")}
}

// kubectl runs kubectl in dir with stdin and returns combined output.
func (c *cluster) kubectl(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.kubectlBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustKubectl is kubectl that fails the test on error.
func (c *cluster) mustKubectl(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	out, err := c.kubectl(t, dir, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// shell runs a bash pipeline in dir with kubectl on PATH (for `... | kubectl replace -f -`).
func (c *cluster) shell(t *testing.T, dir, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig,
		"PATH="+filepath.Dir(c.kubectlBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// bin is the real binary, built once per test process.
var bin testkit.Binary

// portcullisBin returns the path of the built binary.
func portcullisBin(t *testing.T) string { return bin.Path(t) }

// repoFile returns a path in the repository.
func repoFile(parts ...string) string {
	return filepath.Join(append([]string{testkit.RepoRoot()}, parts...)...)
}

func freePort(t *testing.T) int { return testkit.FreePort(t) }

// gateway is a running `portcullis run --kubeconfig` process.
type gateway struct {
	args   []string
	port   int    // Gateway port 443 is served here
	admin  string // admin listener of the current process
	cmd    *exec.Cmd
	logs   *testkit.SyncBuffer
	exited chan error
}

// startGateway starts a gateway watching the cluster, serving port 443 on a free
// loopback port, and waits until it reports ready.
func (c *cluster) startGateway(t *testing.T) *gateway {
	t.Helper()
	return c.startGatewayWith(t, c.kubeconfig)
}

// startGatewayWith is startGateway with another kubeconfig.
func (c *cluster) startGatewayWith(t *testing.T, kubeconfig string) *gateway {
	t.Helper()
	g := &gateway{port: freePort(t), logs: &testkit.SyncBuffer{}}
	g.args = []string{"run", "--kubeconfig", kubeconfig,
		"--port-map", fmt.Sprintf("443=127.0.0.1:%d", g.port)}
	g.start(t)
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("gateway on port %d logs:\n%s", g.port, g.logs.String())
		}
	})
	return g
}

// start (re)starts the process with a fresh admin port and waits for readiness.
func (g *gateway) start(t *testing.T) {
	t.Helper()
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g.admin = admin
	g.exited = make(chan error, 1)
	g.cmd = exec.Command(portcullisBin(t), append(g.args, "--admin", admin)...)
	g.cmd.Env = withoutPodEnv(os.Environ())
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(g.cmd, g.exited)
	eventually(t, 60*time.Second, "gateway ready", func() error {
		select {
		case err := <-g.exited:
			g.exited <- err
			return fmt.Errorf("gateway exited: %v", err)
		default:
		}
		resp, err := http.Get("http://" + admin + "/healthz/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ready status %d", resp.StatusCode)
		}
		return nil
	})
}

// kill ends the process with SIGKILL (a crash, no draining).
func (g *gateway) kill(t *testing.T) {
	t.Helper()
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case err := <-g.exited:
		g.exited <- err
	case <-time.After(15 * time.Second):
		t.Fatal("gateway did not die within 15s of SIGKILL")
	}
}

// stop sends SIGTERM and waits (bounded), then SIGKILL.
func (g *gateway) stop() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.exited:
		g.exited <- err
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
	}
}

// withoutPodEnv drops POD_NAMESPACE so that the gateway's namespace is the default,
// istio-system, as in the walkthrough.
func withoutPodEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "POD_NAMESPACE=") {
			out = append(out, kv)
		}
	}
	return out
}

// eventually polls f until it returns nil or d passes (see testkit.Eventually).
func eventually(t testing.TB, d time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	return testkit.Eventually(t, d, what, f)
}

// run runs a command (curl, openssl, portcullis) in dir and returns stdout, stderr and
// the exit code.
func run(t *testing.T, dir, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return stdout.String(), stderr.String(), code
}
