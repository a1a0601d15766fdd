package e2ekube

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The backends run as this test binary re-executed inside a network namespace
// (TestHelperBackend), because the API server refuses loopback addresses in
// EndpointSlices: they listen on the namespace's routable 198.18.0.0/15 address.
const (
	envBackendAddr = "PORTCULLIS_E2EKUBE_BACKEND_ADDR"
	envBackendBody = "PORTCULLIS_E2EKUBE_BACKEND_BODY"
)

// netns is a network namespace created with hack/kube/netns.sh.
type netns struct {
	name, hostIP, nsIP string
}

// newNetns creates a namespace for this test and deletes it at cleanup (after the
// backends in it have been stopped: cleanups run in reverse order).
func newNetns(t *testing.T) *netns {
	t.Helper()
	name := fmt.Sprintf("pc-e2ek-%d", os.Getpid())
	script := repoFile("hack", "kube", "netns.sh")
	_, _, _ = run(t, "", script, "down", name) // a leftover from a killed run
	out, errOut, code := run(t, "", script, "up", name)
	if code != 0 {
		t.Fatalf("netns.sh up %s: exit %d\n%s%s", name, code, out, errOut)
	}
	t.Cleanup(func() {
		if o, e, c := run(t, "", script, "down", name); c != 0 {
			t.Errorf("netns.sh down %s: exit %d\n%s%s", name, c, o, e)
		}
	})
	n := &netns{name: name}
	for _, f := range strings.Fields(out) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "HOST_IP":
			n.hostIP = v
		case "NS_IP":
			n.nsIP = v
		}
	}
	if n.nsIP == "" {
		t.Fatalf("netns.sh up printed no NS_IP: %q", out)
	}
	return n
}

// startBackend runs an HTTP backend answering body on nsIP:port inside the namespace,
// until the test ends.
func (n *netns) startBackend(t *testing.T, port int, body string) {
	t.Helper()
	addr := net.JoinHostPort(n.nsIP, fmt.Sprint(port))
	cmd := exec.Command("ip", "netns", "exec", n.name, os.Args[0], "-test.run=^TestHelperBackend$", "-test.v")
	cmd.Env = append(os.Environ(), envBackendAddr+"="+addr, envBackendBody+"="+body)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		stdin.Close() // the helper exits when its stdin closes
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "backend listening") {
				ready <- sc.Text()
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("backend %s exited before listening", addr)
	case <-time.After(30 * time.Second):
		t.Fatalf("backend %s not listening after 30s", addr)
	}
	// Reachable from the host side, where the gateway runs.
	eventually(t, 10*time.Second, "backend "+addr+" reachable", func() error {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// TestHelperBackend is not a test: startBackend runs it inside the network namespace.
func TestHelperBackend(t *testing.T) {
	addr, body := os.Getenv(envBackendAddr), os.Getenv(envBackendBody)
	if addr == "" {
		t.Skip("helper process for the e2ekube backends")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend-Path", r.URL.Path)
			fmt.Fprintln(w, body)
		})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("backend listening on %s\n", ln.Addr())
	// Serve until the parent closes stdin (or dies), bounded in any case.
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case <-stdinClosed:
	case <-time.After(20 * time.Minute):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}
