package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// curlCommand is the walkthrough's curl command for host, from the PKI directory.
func curlCommand(host string, port int) string {
	p := strconv.Itoa(port)
	return fmt.Sprintf(`curl -HHost:%[1]s \
--resolve %[1]s:%[2]s:127.0.0.1 \
--cacert %[1]s/2_intermediate/certs/ca-chain.cert.pem \
--cert %[1]s/4_client/certs/%[1]s.cert.pem \
--key %[1]s/4_client/private/%[1]s.key.pem \
https://%[1]s:%[2]s/`, host, p)
}

func printInstructions(w io.Writer, dir, pki, cfg string, port int, admin string) {
	fmt.Fprintf(w, `
portcullis demo: the FooCorp secure-ingress walkthrough is running.

  manifests   %s   (the walkthrough's Gateway and VirtualServices verbatim, Secrets, backends)
  PKI         %s   (one root and intermediate per team)
  gateway     127.0.0.1:%d stands in for $INGRESS_HOST:$SECURE_INGRESS_PORT (port 443 of the Gateway)
  admin       http://%s/config_dump  /certs  /metrics

From the PKI directory, run the walkthrough's commands:

  cd %s
  export INGRESS_HOST=127.0.0.1 SECURE_INGRESS_PORT=%d

%s

%s

Try the security properties too: drop --cert/--key (handshake fails), use the frontend
client certificate against inventory (handshake fails), or send -HHost:inventory.foocorp.com
to https://frontend.foocorp.com (421 Misdirected Request).
Validate the manifests with: portcullis validate --config %s
`, cfg, pki, port, admin, pki, port, curlCommand(FrontendHost, port), curlCommand(InventoryHost, port), cfg)
	_ = dir
}

// check sends the walkthrough's two requests exactly as the curl commands do.
func check(ctx context.Context, w io.Writer, pki string, port int) error {
	var failed []string
	for _, c := range []struct{ host, body string }{{FrontendHost, FrontendBody}, {InventoryHost, InventoryBody}} {
		got, err := get(ctx, pki, c.host, port)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", c.host, err))
			continue
		}
		fmt.Fprintf(w, "%s -> %s\n", c.host, strings.TrimSpace(got))
		if strings.TrimSpace(got) != c.body {
			failed = append(failed, fmt.Sprintf("%s: got %q, want %q", c.host, got, c.body))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("demo check failed: %s", strings.Join(failed, "; "))
	}
	fmt.Fprintln(w, "demo check: both hosts answered over mutual TLS")
	return nil
}

func get(ctx context.Context, pki, host string, port int) (string, error) {
	cfg, err := certs.ClientTLS(pki, host)
	if err != nil {
		return "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tr := &http.Transport{
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr) // --resolve HOST:PORT:127.0.0.1
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+":"+strconv.Itoa(port)+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), nil
}
