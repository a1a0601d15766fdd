package e2ekube

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// curl runs curl exactly as the walkthrough does (from the PKI directory), against the
// gateway's port. It returns stdout, stderr and the exit code.
func curl(t *testing.T, pki string, port int, host, path string, extra ...string) (string, string, int) {
	t.Helper()
	p := strconv.Itoa(port)
	args := append([]string{"-sS", "-HHost:" + host,
		"--resolve", host + ":" + p + ":127.0.0.1",
		"--cacert", host + "/2_intermediate/certs/ca-chain.cert.pem",
		"--cert", host + "/4_client/certs/" + host + ".cert.pem",
		"--key", host + "/4_client/private/" + host + ".key.pem"}, extra...)
	args = append(args, "https://"+host+":"+p+path)
	return run(t, pki, "curl", args...)
}

// wantBody curls host and expects body.
func wantBody(t *testing.T, pki string, port int, host, body string) {
	t.Helper()
	out, errOut, code := curl(t, pki, port, host, "/")
	if code != 0 || strings.TrimSpace(out) != body {
		t.Fatalf("curl %s on port %d: exit %d, body %q, stderr %s", host, port, code, out, errOut)
	}
}

// servedSerial returns the serial of the certificate the gateway presents for host, read
// with openssl s_client ("" if the handshake fails before a certificate is seen).
func servedSerial(t *testing.T, pki string, port int, host string) string {
	t.Helper()
	out, _, _ := run(t, pki, "openssl", "s_client", "-connect", "127.0.0.1:"+strconv.Itoa(port),
		"-servername", host, "-CAfile", host+"/2_intermediate/certs/ca-chain.cert.pem",
		"-cert", host+"/4_client/certs/"+host+".cert.pem", "-key", host+"/4_client/private/"+host+".key.pem")
	if !strings.Contains(out, "-----BEGIN CERTIFICATE-----") {
		return ""
	}
	return certSerial(t, []byte(out))
}

// mtlsClient is a Go HTTPS client presenting host's client certificate and dialling the
// gateway on loopback, for polling faster than a curl process per attempt allows.
func mtlsClient(t *testing.T, pki string, port int, host string) *http.Client {
	t.Helper()
	cfg, err := certs.ClientTLS(pki, host)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var d net.Dialer
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   cfg,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		},
	}
}

// get fetches path from host through c and returns status and trimmed body.
func get(c *http.Client, host, path string) (int, string, error) {
	resp, err := c.Get("https://" + host + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// expect is a get that must return status (and body, when not empty).
func expect(c *http.Client, host, path string, status int, body string) error {
	code, got, err := get(c, host, path)
	if err != nil {
		return err
	}
	if code != status || (body != "" && got != body) {
		return fmt.Errorf("GET %s%s: %d %q, want %d %q", host, path, code, got, status, body)
	}
	return nil
}

// rotateServerCert issues a new server certificate for host in the PKI and returns its
// serial.
func rotateServerCert(t *testing.T, pki, host string) string {
	t.Helper()
	if err := certs.IssueServer(pki, host, certs.Options{}); err != nil {
		t.Fatal(err)
	}
	return fileSerial(t, filepath.Join(pki, host, "3_application", "certs", host+".cert.pem"))
}
