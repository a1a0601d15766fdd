package e2ekube

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testkit"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/portcullis/portcullis/internal/demo"
)

// kubeconfigVia writes a copy of the cluster's kubeconfig whose server is addr (a proxy
// in front of the API server; the serving certificate is for 127.0.0.1, any port). It
// returns the copy's path and the real server's host:port.
func (c *cluster) kubeconfigVia(t *testing.T, addr func(server string) string) (path, server string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok || cfg.Clusters[ctx.Cluster] == nil {
		t.Fatalf("kubeconfig %s: no current context/cluster", c.kubeconfig)
	}
	cl := cfg.Clusters[ctx.Cluster]
	u, err := url.Parse(cl.Server)
	if err != nil {
		t.Fatal(err)
	}
	server = u.Host
	cl.Server = "https://" + addr(server)
	path = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path, server
}

// sourceUp reads portcullis_source_up{source="kubernetes"} from the admin listener.
func (g *gateway) sourceUp() (string, error) {
	resp, err := http.Get("http://" + g.admin + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `portcullis_source_up{source="kubernetes"} `); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no portcullis_source_up{source=\"kubernetes\"} in /metrics")
}

func (g *gateway) ready() error {
	resp, err := http.Get("http://" + g.admin + "/healthz/ready")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ready: status %d", resp.StatusCode)
	}
	return nil
}

// apiServerLoss: a gateway whose API server goes away keeps serving its last state and
// stays ready, reports the loss in portcullis_source_up, and picks up a change made
// meanwhile once the API server is back, without a restart.
func apiServerLoss(t *testing.T, c *cluster, pki string) {
	var proxy *testkit.TCPProxy
	path, _ := c.kubeconfigVia(t, func(server string) string {
		proxy = testkit.StartProxy(t, server)
		return proxy.Addr()
	})
	g := c.startGatewayWith(t, path)
	client := mtlsClient(t, pki, g.port, frontendHost)
	wantBody(t, pki, g.port, frontendHost, demo.FrontendBody)

	proxy.Stop()
	start := time.Now()
	eventually(t, 30*time.Second, "loss reported", func() error {
		if v, err := g.sourceUp(); err != nil || v != "0" {
			return fmt.Errorf("source_up %q, %v", v, err)
		}
		return nil
	})
	t.Logf("loss reported after %v", time.Since(start))
	if err := g.ready(); err != nil {
		t.Errorf("not ready while the API server is away: %v", err)
	}
	if err := expect(client, frontendHost, "/", http.StatusOK, demo.FrontendBody); err != nil {
		t.Errorf("not serving while the API server is away: %v", err)
	}

	edited := filepath.Join(t.TempDir(), "virtualservices.yaml")
	if err := os.WriteFile(edited, []byte(editedVirtualServices(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl(t, "", "", "apply", "-f", edited)
	defer c.mustKubectl(t, "", "", "apply", "-f", manifest("virtualservices.yaml"))

	proxy.Start(t)
	start = time.Now()
	eventually(t, 60*time.Second, "back up", func() error {
		if v, err := g.sourceUp(); err != nil || v != "1" {
			return fmt.Errorf("source_up %q, %v", v, err)
		}
		return nil
	})
	t.Logf("up reported after %v", time.Since(start))
	eventually(t, 60*time.Second, "change made while away served", func() error {
		return expect(client, frontendHost, "/v2", http.StatusOK, demo.FrontendBody)
	})
	t.Logf("change served after %v", time.Since(start))
}
