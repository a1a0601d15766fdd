package demo

import (
	"context"
	"embed"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/certs"
)

//go:embed manifests/*.yaml
var manifests embed.FS

// The walkthrough's hosts and the bodies its backends answer.
const (
	FrontendHost  = "frontend.foocorp.com"
	InventoryHost = "inventory.foocorp.com"
	FrontendBody  = "🏗 Welcome to FooCorp - Public Site"
	InventoryBody = "🛠 FooCorp - Inventory [INTERNAL]"
)

// Options configure the demo.
type Options struct {
	Dir   string // where PKI and manifests go; a new temporary directory when empty
	Port  int    // local port standing in for the gateway's 443
	Admin string // admin listener address
	// Check makes the demo send the walkthrough's two requests itself, print the answers
	// and exit (non-zero when an answer is wrong) instead of serving until interrupted.
	Check bool
	Out   io.Writer
}

// Run runs the demo until ctx is done (or, with Check, until the requests are answered).
func Run(ctx context.Context, o Options, logger *slog.Logger) error {
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "portcullis-demo-")
		if err != nil {
			return err
		}
		o.Dir = d
	}
	pki := filepath.Join(o.Dir, "pki")
	cfg := filepath.Join(o.Dir, "foocorp")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		return err
	}
	hosts := []string{FrontendHost, InventoryHost}
	if err := certs.Generate(certs.Options{Dir: pki, Hosts: hosts}); err != nil {
		return fmt.Errorf("generate PKI: %w", err)
	}
	ms, err := certs.SecretManifests(pki, hosts, "istio-system")
	if err != nil {
		return fmt.Errorf("secret manifests: %w", err)
	}
	for _, m := range ms {
		if err := os.WriteFile(filepath.Join(cfg, m.Name+".yaml"), m.YAML, 0o644); err != nil {
			return err
		}
	}
	for _, f := range []string{"gateway.yaml", "virtualservices.yaml"} {
		b, err := manifests.ReadFile("manifests/" + f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(cfg, f), b, 0o644); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	eg, ctx := errgroup.WithContext(ctx)
	fePort, err := serveBackend(ctx, eg, FrontendBody)
	if err != nil {
		return err
	}
	invPort, err := serveBackend(ctx, eg, InventoryBody)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg, "backends.yaml"), []byte(ServiceEntries(fePort, invPort)), 0o644); err != nil {
		return err
	}

	opts := app.Options{
		ConfigPaths: []string{cfg},
		PortMap:     map[uint32]string{443: "127.0.0.1:" + strconv.Itoa(o.Port)},
		AdminAddr:   o.Admin,
	}
	eg.Go(func() error { return app.Run(ctx, opts, logger) })
	if err := waitReady(ctx, "http://"+o.Admin+"/healthz/ready"); err != nil {
		cancel()
		return fmt.Errorf("%w (gateway: %v)", err, eg.Wait())
	}
	printInstructions(o.Out, o.Dir, pki, cfg, o.Port, o.Admin)
	if o.Check {
		err := check(ctx, o.Out, pki, o.Port)
		cancel()
		_ = eg.Wait()
		return err
	}
	fmt.Fprintln(o.Out, "Press Ctrl-C to stop.")
	return eg.Wait()
}

// ServiceEntries declares the walkthrough's two in-cluster services at local backend ports.
func ServiceEntries(frontendPort, inventoryPort int) string {
	se := func(name, ns, host string, port int) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: %s
  namespace: %s
spec:
  hosts: [%s]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: %d}
  endpoints:
  - address: 127.0.0.1
`, name, ns, host, port)
	}
	return se("frontend", "ux", "frontend.ux.svc.cluster.local", frontendPort) + "---\n" +
		se("inventory", "corp-services", "inventory.corp-services.svc.cluster.local", inventoryPort)
}

func serveBackend(ctx context.Context, eg *errgroup.Group, body string) (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, body) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	eg.Go(func() error {
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			return err
		}
		return nil
	})
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(ctx context.Context, url string) error {
	// Each probe is bounded too: a gateway that accepts but never answers must not hang
	// the demo past its deadline or past ctx.
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("readiness URL %q: %w", url, err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("gateway not ready after 20s (%s)", url)
}
