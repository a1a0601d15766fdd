package e2ekube

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// TestUpstreamMutualTLSOnKubernetes: a DestinationRule's MUTUAL credentialName is read
// from the API server through the same credential store as server credentials; the client
// Secret is applied, rotated and deleted with kubectl. The route is a tcp[] route on a
// TCP gateway port, so each new connection shows the client identity the gateway used.
func TestUpstreamMutualTLSOnKubernetes(t *testing.T) {
	c := needCluster(t)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	const one, two = "up1.kube.internal", "up2.kube.internal"
	if out, _, code := run(t, dir, portcullisBin(t), "certs", "--dir", pki, "--host", one, "--host", two); code != 0 {
		t.Fatalf("portcullis certs: exit %d\n%s", code, out)
	}
	port := whoamiBackend(t, pki, one, one, two)

	secret := func(host string) []string {
		p := certs.PathsFor(pki, host)
		return []string{"create", "-n", "istio-system", "secret", "generic", "upstream-client-e2e",
			"--from-file=tls.crt=" + p.ClientCert, "--from-file=tls.key=" + p.ClientKey,
			"--from-file=ca.crt=" + certs.PathsFor(pki, one).Chain, "--dry-run=client", "-o", "yaml"}
	}
	apply := func(host string) {
		y := c.mustKubectl(t, "", "", secret(host)...)
		c.mustKubectl(t, "", y, "apply", "-f", "-")
	}
	cleanup := func() {
		c.mustKubectl(t, "", "", "delete", "-n", "default", "gateways.networking.istio.io", "uptls", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "default", "virtualservices.networking.istio.io", "uptls", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "default", "destinationrules.networking.istio.io", "uptls", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "default", "serviceentries.networking.istio.io", "uptls", "--ignore-not-found")
		c.mustKubectl(t, "", "", "delete", "-n", "istio-system", "secret", "upstream-client-e2e", "--ignore-not-found")
	}
	cleanup()
	t.Cleanup(func() {
		if !t.Failed() {
			cleanup()
		}
	})
	apply(one)
	c.mustKubectl(t, "", fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: uptls, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: uptls, namespace: default}
spec:
  hosts: ["*"]
  gateways: [uptls]
  tcp:
  - route: [{destination: {host: uptls.kube.internal, port: {number: 7000}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: uptls, namespace: default}
spec:
  host: uptls.kube.internal
  trafficPolicy:
    tls: {mode: MUTUAL, credentialName: upstream-client-e2e, sni: %s, subjectAltNames: [%s]}
%s`, one, one, l4ServiceEntry("uptls", "uptls.kube.internal", port)), "apply", "-f", "-")

	g := c.startGateway(t)
	whoami := func() (string, error) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.port), 5*time.Second)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		return strings.TrimSpace(line), err
	}
	want := func(what, id string) {
		eventually(t, 30*time.Second, what, func() error {
			got, err := whoami()
			if got != id {
				return fmt.Errorf("backend saw %q (%v), want %q", got, err, id)
			}
			return nil
		})
	}
	want("the gateway's client certificate from the Secret", one+" client")
	apply(two) // rotate
	want("the rotated client certificate", two+" client")
	c.mustKubectl(t, "", "", "delete", "-n", "istio-system", "secret", "upstream-client-e2e")
	want("no connection once the Secret is deleted (never plaintext)", "")
}

// whoamiBackend is a TLS server with host's certificate requiring a client certificate
// of any of the hosts' CAs; it writes the client certificate's CN on each connection.
func whoamiBackend(t *testing.T, pki, host string, clientHosts ...string) int {
	t.Helper()
	p := certs.PathsFor(pki, host)
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, h := range clientHosts {
		b, err := os.ReadFile(certs.PathsFor(pki, h).Chain)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(b)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				tc := conn.(*tls.Conn)
				if tc.Handshake() != nil {
					return // e.g. a client certificate of neither CA
				}
				fmt.Fprintf(conn, "%s\n", tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}
