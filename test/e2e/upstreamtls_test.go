package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// Upstream TLS (issue 12 item 1): DestinationRule trafficPolicy.tls towards real TLS and
// mutual-TLS backends with their own PKI, through the real binary.

const (
	upHost  = "backend.internal"  // the backends' server certificate; PKI 1 (client identity 1)
	upHost2 = "backend2.internal" // PKI 2: the rotated client identity
)

// tlsBackend is an HTTPS backend answering "sni=<SNI> client=<client CN or ->".
func tlsBackend(t *testing.T, pki string, clientCAs *x509.CertPool) int {
	t.Helper()
	cfg := backendTLS(t, pki, upHost)
	if clientCAs != nil {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, clientCAs
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := "-"
		if len(r.TLS.PeerCertificates) > 0 {
			client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close") // the next request needs a new connection
		}
		fmt.Fprintf(w, "sni=%s client=%s", r.TLS.ServerName, client)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func pemFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clientSecret is a Secret manifest holding host's client certificate (tls.crt/tls.key)
// and the CA verifying the backends (ca.crt).
func clientSecret(t *testing.T, pki, host string) string {
	t.Helper()
	p := certs.PathsFor(pki, host)
	indent := func(s string) string { return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ") }
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: upstream-client, namespace: istio-system}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
  ca.crt: |
%s
`, indent(pemFile(t, p.ClientCert)), indent(pemFile(t, p.ClientKey)), indent(pemFile(t, certs.PathsFor(pki, upHost).Chain)))
}

// upRoute is a ServiceEntry, VirtualService and DestinationRule sending host (on the HTTP
// gateway) to 127.0.0.1:port with trafficPolicy.tls tls.
func upRoute(name, host string, port int, tlsYAML, vsExtra string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %[1]s, namespace: default}
spec:
  hosts: [%[1]s.internal]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: https, protocol: HTTPS, targetPort: %[3]d}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %[1]s, namespace: default}
spec:
  hosts: [%[2]s]
  gateways: [istio-system/up]
  http:
  - route: [{destination: {host: %[1]s.internal, port: {number: 443}}}]
%[5]s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %[1]s, namespace: default}
spec:
  host: %[1]s.internal
  trafficPolicy:
    tls: %[4]s
---
`, name, host, port, tlsYAML, vsExtra)
}

const upGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: up, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
---
`

type upEnv struct {
	dir, pki, config, accessLog string
	port, tcpPort               int
	gw                          *gateway
}

func (e *upEnv) get(t *testing.T, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(e.port)+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *upEnv) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + e.gw.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// logLine waits for an access log line containing every one of want.
func (e *upEnv) logLine(t *testing.T, want ...string) string {
	t.Helper()
	var line string
	eventually(t, 5*time.Second, fmt.Sprintf("access log line with %q", want), func() error {
		b, _ := os.ReadFile(e.accessLog)
		for _, l := range strings.Split(string(b), "\n") {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				line = l
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})
	return line
}

func TestUpstreamTLS(t *testing.T) {
	portcullisBin(t) // built before run's 60 s budget starts
	e := &upEnv{dir: t.TempDir()}
	e.pki, e.config = filepath.Join(e.dir, "pki"), filepath.Join(e.dir, "config")
	e.accessLog = filepath.Join(e.dir, "access.log")
	if err := os.MkdirAll(e.config, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "certs", "--dir", e.pki, "--host", upHost, "--host", upHost2); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	p1, p2 := certs.PathsFor(e.pki, upHost), certs.PathsFor(e.pki, upHost2)
	clientCAs := roots(t, e.pki, upHost)
	clientCAs.AppendCertsFromPEM([]byte(pemFile(t, p2.Chain)))
	simple := tlsBackend(t, e.pki, nil)
	mutual := tlsBackend(t, e.pki, clientCAs)
	tcpBackend := startEcho(t, "tls-echo", backendTLS(t, e.pki, upHost))
	ca := p1.Chain

	var cfg strings.Builder
	cfg.WriteString(upGateway)
	cfg.WriteString(upRoute("ok", "ok.example.com", simple,
		fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, sni: %s, subjectAltNames: [%s]}", ca, upHost, upHost), ""))
	cfg.WriteString(upRoute("badsan", "badsan.example.com", simple,
		fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, sni: %s, subjectAltNames: [other.internal]}", ca, upHost), ""))
	cfg.WriteString(upRoute("auto", "auto.example.com", simple,
		fmt.Sprintf("{mode: SIMPLE, caCertificates: %s}", ca), "    rewrite: {authority: "+upHost+"}"))
	cfg.WriteString(upRoute("autobad", "autobad.example.com", simple, fmt.Sprintf("{mode: SIMPLE, caCertificates: %s}", ca), ""))
	cfg.WriteString(upRoute("sysroots", "sysroots.example.com", simple, "{mode: SIMPLE, sni: "+upHost+"}", ""))
	cfg.WriteString(upRoute("insecure", "insecure.example.com", simple, "{mode: SIMPLE, insecureSkipVerify: true}", ""))
	cfg.WriteString(upRoute("plain", "plain.example.com", simple, "{mode: DISABLE}", ""))
	cfg.WriteString(upRoute("nocert", "nocert.example.com", mutual, fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, sni: %s}", ca, upHost), ""))
	cfg.WriteString(upRoute("mfiles", "mfiles.example.com", mutual, fmt.Sprintf(
		"{mode: MUTUAL, clientCertificate: %s, privateKey: %s, caCertificates: %s, sni: %s}", p1.ClientCert, p1.ClientKey, ca, upHost), ""))
	cfg.WriteString(upRoute("msecret", "msecret.example.com", mutual, "{mode: MUTUAL, credentialName: upstream-client, sni: "+upHost+"}", ""))
	cfg.WriteString(upRoute("istio", "istio.example.com", simple, "{mode: ISTIO_MUTUAL}", ""))
	cfg.WriteString(fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcpup, namespace: default}
spec:
  hosts: [tcpup.internal]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 7000, name: tls, protocol: TLS, targetPort: %d}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcpup, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/up]
  tcp:
  - route: [{destination: {host: tcpup.internal, port: {number: 7000}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcpup, namespace: default}
spec:
  host: tcpup.internal
  trafficPolicy:
    tls: {mode: SIMPLE, caCertificates: %s, sni: %s, subjectAltNames: [%s]}
`, tcpBackend.port, ca, upHost, upHost))
	writeFile(t, filepath.Join(e.config, "routes.yaml"), cfg.String())
	secretPath := filepath.Join(e.config, "client-secret.yaml")
	writeFile(t, secretPath, clientSecret(t, e.pki, upHost))

	out, _ := run(t, "validate", "--config", e.config)
	for _, want := range []string{
		"ISTIO_MUTUAL needs Istio's mesh CA",
		"insecureSkipVerify: the upstream's certificate is not verified",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate does not report %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "DestinationRule") > 3 { // ISTIO_MUTUAL, insecure, and the route failing closed
		t.Errorf("validate reports more than expected:\n%s", out)
	}

	e.port, e.tcpPort = freePort(t), freePort(t)
	e.gw = startGateway(t, "--config", e.config, "--access-log", e.accessLog,
		"--port-map", "80=127.0.0.1:"+strconv.Itoa(e.port), "--port-map", "9000=127.0.0.1:"+strconv.Itoa(e.tcpPort))
	t.Cleanup(http.DefaultClient.CloseIdleConnections) // before the gateway stops: no drain wait
	// Diagnostics are logged just after the snapshot is applied, which
	// may be after startGateway saw the listeners open.
	eventually(t, 5*time.Second, "startup logs warn about insecureSkipVerify", func() error {
		if !strings.Contains(e.gw.logs.String(), "insecureSkipVerify") {
			return fmt.Errorf("no warning yet:\n%s", e.gw.logs.String())
		}
		return nil
	})

	t.Run("SIMPLE with CA, sni and subjectAltNames", func(t *testing.T) {
		code, body := e.get(t, "ok.example.com")
		if code != 200 || body != "sni="+upHost+" client=-" {
			t.Fatalf("got %d %q", code, body)
		}
	})
	t.Run("subjectAltNames mismatch is 503 UF with the reason", func(t *testing.T) {
		if code, body := e.get(t, "badsan.example.com"); code != 503 {
			t.Fatalf("got %d %q", code, body)
		}
		e.logLine(t, "badsan.example.com", " 503 UF", "TLS_error:SAN_MISMATCH")
		if m := e.metrics(t); !strings.Contains(m, `portcullis_upstream_tls_failures_total{cluster="outbound|443||badsan.internal",reason="san_mismatch"}`) {
			t.Errorf("no san_mismatch failure metric")
		}
	})
	t.Run("auto SNI and SAN from the rewritten Host", func(t *testing.T) {
		code, body := e.get(t, "auto.example.com")
		if code != 200 || body != "sni="+upHost+" client=-" {
			t.Fatalf("got %d %q", code, body)
		}
		if code, _ := e.get(t, "autobad.example.com"); code != 503 {
			t.Fatalf("auto SAN validation against autobad.example.com: got %d, want 503", code)
		}
		e.logLine(t, "autobad.example.com", "UF", "TLS_error:SAN_MISMATCH")
	})
	t.Run("no CA: the system roots do not know the backend's CA", func(t *testing.T) {
		if code, _ := e.get(t, "sysroots.example.com"); code != 503 {
			t.Fatalf("got %d, want 503", code)
		}
		e.logLine(t, "sysroots.example.com", "UF", "TLS_error:CERTIFICATE_VERIFY_FAILED")
	})
	t.Run("insecureSkipVerify and DISABLE", func(t *testing.T) {
		if code, body := e.get(t, "insecure.example.com"); code != 200 || !strings.HasPrefix(body, "sni=") {
			t.Fatalf("insecure: got %d %q", code, body)
		}
		// DISABLE speaks plaintext to a TLS backend: the backend answers 400, as in Istio.
		if code, _ := e.get(t, "plain.example.com"); code != 400 {
			t.Fatalf("DISABLE: got %d, want the TLS backend's 400", code)
		}
	})
	t.Run("ISTIO_MUTUAL fails closed", func(t *testing.T) {
		if code, body := e.get(t, "istio.example.com"); code != 500 || !strings.Contains(body, "ISTIO_MUTUAL") {
			t.Fatalf("got %d %q", code, body)
		}
	})
	t.Run("MUTUAL backend refuses a gateway without a client certificate", func(t *testing.T) {
		if code, _ := e.get(t, "nocert.example.com"); code != 503 {
			t.Fatalf("got %d, want 503", code)
		}
	})
	t.Run("MUTUAL from files", func(t *testing.T) {
		code, body := e.get(t, "mfiles.example.com")
		if want := "sni=" + upHost + " client=" + upHost + " client"; code != 200 || body != want {
			t.Fatalf("got %d %q, want %q", code, body, want)
		}
	})
	t.Run("MUTUAL from a Secret, rotated under load, a bad update, then deleted", func(t *testing.T) {
		code, body := e.get(t, "msecret.example.com")
		if want := "sni=" + upHost + " client=" + upHost + " client"; code != 200 || body != want {
			t.Fatalf("got %d %q, want %q", code, body, want)
		}
		// Load: 4 clients for as long as the rotation takes (bounded), every answer 200.
		var stop atomic.Bool
		var total, failed atomic.Int64
		var seen2 atomic.Bool
		var wg sync.WaitGroup
		var firstFailure atomic.Value
		for range 4 {
			wg.Go(func() {
				c := &http.Client{Timeout: 5 * time.Second}
				for n := 0; !stop.Load() && n < 5000; n++ {
					req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(e.port)+"/", nil)
					req.Host = "msecret.example.com"
					resp, err := c.Do(req)
					total.Add(1)
					if err != nil {
						failed.Add(1)
						firstFailure.CompareAndSwap(nil, err.Error())
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
						firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, b))
					} else if strings.HasSuffix(string(b), "client="+upHost2+" client") {
						seen2.Store(true)
					}
				}
				c.CloseIdleConnections()
			})
		}
		time.Sleep(200 * time.Millisecond)
		writeFile(t, secretPath, clientSecret(t, e.pki, upHost2))
		deadline := time.Now().Add(10 * time.Second)
		for !seen2.Load() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		t.Logf("rotation under load: %d requests, %d failed", total.Load(), failed.Load())
		if !seen2.Load() {
			t.Fatalf("the backend never saw the rotated client certificate")
		}
		if failed.Load() != 0 {
			t.Fatalf("%d of %d requests failed during the rotation; first: %v", failed.Load(), total.Load(), firstFailure.Load())
		}
		// A bad update (a certificate that is not PEM) is rejected: the last good client
		// certificate keeps being presented, and the rejection is counted.
		bad := strings.Replace(clientSecret(t, e.pki, upHost), "tls.crt: |\n", "tls.crt: |\n    not a certificate\n", 1)
		bad = bad[:strings.Index(bad, "    not a certificate\n")+len("    not a certificate\n")] + bad[strings.Index(bad, "  tls.key:"):]
		writeFile(t, secretPath, bad)
		eventually(t, 5*time.Second, "the bad client Secret rejected", func() error {
			if m := e.metrics(t); !strings.Contains(m, `portcullis_credential_rejected_total{credential="istio-system/upstream-client"`) {
				return fmt.Errorf("not counted:\n%s", grepLines(m, "credential_rejected"))
			}
			return nil
		})
		for range 5 {
			if code, body := e.get(t, "msecret.example.com"); code != 200 || !strings.HasSuffix(body, "client="+upHost2+" client") {
				t.Fatalf("after a bad update: %d %q, want the last good (rotated) client certificate", code, body)
			}
		}
		if err := os.Remove(secretPath); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "503 after the client Secret is deleted", func() error {
			if code, body := e.get(t, "msecret.example.com"); code != 503 {
				return fmt.Errorf("got %d %q", code, body)
			}
			return nil
		})
		e.logLine(t, "msecret.example.com", " 503 UF", "TLS_error:NO_CREDENTIAL")
	})
	t.Run("sessions are resumed", func(t *testing.T) {
		// The backend closes each connection after /close: every request dials anew, and
		// resumes the session of the one before.
		for range 5 {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(e.port)+"/close", nil)
			req.Host = "ok.example.com"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		m := e.metrics(t)
		t.Logf("handshakes:\n%s", grepLines(m, "portcullis_upstream_tls_handshakes_total{cluster=\"outbound|443||ok.internal\""))
		if !strings.Contains(m, `portcullis_upstream_tls_handshakes_total{cluster="outbound|443||ok.internal",resumed="true"}`) {
			t.Errorf("no resumed handshake counted:\n%s", grepLines(m, "upstream_tls"))
		}
	})
	t.Run("tcp route originates TLS", func(t *testing.T) {
		c := dialTCP(t, e.tcpPort)
		defer c.Close()
		if got := exchange(t, c, bufio.NewReader(c), "ping"); got != "tls-echo:ping" {
			t.Fatalf("reply %q", got)
		}
	})
	t.Run("config_dump shows names, never key material", func(t *testing.T) {
		resp, err := http.Get("http://" + e.gw.admin + "/config_dump")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), p1.ClientKey) || strings.Contains(string(b), "PRIVATE KEY") {
			t.Fatalf("config_dump should name %s and hold no key", p1.ClientKey)
		}
	})
}

// TestValidateUpstreamTLS: `portcullis validate` names every bad trafficPolicy.tls, its
// file, object and field, and exits 1.
func TestValidateUpstreamTLS(t *testing.T) {
	portcullisBin(t) // built before run's 60 s budget starts
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not-a-ca.pem")
	writeFile(t, notPEM, "this is not PEM\n")
	var cfg strings.Builder
	cfg.WriteString(upGateway)
	for i, tl := range []string{
		"{mode: SIMPLE, caCertificates: " + filepath.Join(dir, "missing-ca.pem") + "}",
		"{mode: SIMPLE, caCertificates: " + notPEM + "}",
		"{mode: MUTUAL, credentialName: absent-client}",
		"{mode: SIMPLE, credentialName: other-ns/client}",
		"{mode: SIMPLE, subjectAltNames: ['']}",
		"{mode: ISTIO_MUTUAL}",
		"{mode: MUTUAL, privateKey: /k.pem}",
		"{mode: SIMPLE, caCertCredentialName: upstream-ca}",
	} {
		cfg.WriteString(upRoute(fmt.Sprintf("v%d", i), fmt.Sprintf("v%d.example.com", i), 8443, tl, ""))
	}
	writeFile(t, filepath.Join(dir, "config.yaml"), cfg.String())
	out, err := run(t, "validate", "--config", dir)
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"missing-ca.pem#0: file not found",
		"not-a-ca.pem#0: no PEM certificate found",
		"Secret istio-system/absent-client: secret not found",
		`credentialName "other-ns/client" is not a valid Secret name (the Secret is looked up in the gateway's namespace istio-system)`,
		"DestinationRule default/v4 spec.trafficPolicy.tls.subjectAltNames[0]: empty subject alternative name",
		"DestinationRule default/v5 spec.trafficPolicy.tls.mode: ISTIO_MUTUAL needs Istio's mesh CA",
		"DestinationRule default/v6 spec.trafficPolicy.tls.clientCertificate: client certificate required for mutual tls",
		"DestinationRule default/v7 spec.trafficPolicy.tls.caCertCredentialName: Istio's gateway does not read it for DestinationRules",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate does not say %q:\n%s", want, out)
		}
	}
	// Once on the DestinationRule (and once on the route it fails), not twice.
	if n := len(regexp.MustCompile(`(?m)^error: \S+ DestinationRule default/v7 `).FindAllString(out, -1)); n != 1 {
		t.Errorf("DestinationRule v7 (caCertCredentialName) reported %d times, want once:\n%s", n, out)
	}
}
