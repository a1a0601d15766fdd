package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/internal/testkit"
)

// Gateway API backends (design 0027): BackendTLSPolicy towards a real TLS backend, and a
// rule whose backendRefs are half invalid, through the real binary in file mode.

const gwbClass = testkit.GatewayClassYAML + `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: web}
spec:
  gatewayClassName: portcullis
  listeners:
  - {name: http, port: 80, protocol: HTTP}
`

// gwbPolicy is a BackendTLSPolicy for Service web/svc verifying upHost's certificate
// with the CA of ConfigMap web/ca, and extra validation fields.
func gwbPolicy(svc, ca, extra string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: %[1]s, namespace: web}
spec:
  targetRefs: [{group: "", kind: Service, name: %[1]s}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: %[2]s}]
    hostname: %[3]s
%[4]s`, svc, ca, upHost, extra)
}

func TestGatewayAPIBackends(t *testing.T) {
	portcullisBin(t)
	dir := t.TempDir()
	pki, config, accessLog := filepath.Join(dir, "pki"), filepath.Join(dir, "config"), filepath.Join(dir, "access.log")
	if err := os.MkdirAll(config, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "certs", "--dir", pki, "--host", upHost); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	tlsPort := tlsBackend(t, pki, nil) // answers "sni=<SNI> client=-" over TLS only
	plainPort, _ := backend(t, "plain")
	route := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: web}
spec:
  parentRefs: [{name: web}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /secure}}]
    backendRefs: [{name: secure, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /wrongsan}}]
    backendRefs: [{name: wrongsan, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /noca}}]
    backendRefs: [{name: noca, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /unprotected}}]
    backendRefs: [{name: unprotected, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /half}}]
    backendRefs: [{name: plain, port: 80, weight: 50}, {name: missing, port: 80, weight: 50}]
`
	files := map[string]string{
		"gateway.yaml": gwbClass + "---\n" + route,
		"services.yaml": gwapiService("web", "secure", tlsPort) + "---\n" + gwapiService("web", "wrongsan", tlsPort) + "---\n" +
			gwapiService("web", "noca", tlsPort) + "---\n" + gwapiService("web", "unprotected", tlsPort) + "---\n" +
			gwapiService("web", "plain", plainPort),
		"ca.yaml": gwapiCAConfigMap(t, pki, "web", "backend-ca", upHost),
		"policies.yaml": gwbPolicy("secure", "backend-ca", "") + "---\n" +
			gwbPolicy("wrongsan", "backend-ca", "    subjectAltNames: [{type: Hostname, hostname: other.internal}]\n") + "---\n" +
			gwbPolicy("noca", "noca-ca", ""),
	}
	for name, content := range files {
		writeFile(t, filepath.Join(config, name), content)
	}
	port := freePort(t)
	gw := startGateway(t, "--config", config, "--access-log", accessLog, "--port-map", "80=127.0.0.1:"+strconv.Itoa(port))
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	env := &upEnv{port: port, accessLog: accessLog, gw: gw}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("BackendTLSPolicy: TLS with the policy's SNI, verified by its CA", func(t *testing.T) {
		code, body := get("/secure")
		if code != 200 || body != "sni="+upHost+" client=-" {
			t.Fatalf("got %d %q, want 200 sni=%s", code, body, upHost)
		}
	})
	t.Run("without a policy the TLS backend gets plaintext", func(t *testing.T) {
		if code, _ := get("/unprotected"); code == 200 {
			t.Fatalf("plaintext to the TLS backend answered 200")
		}
	})
	t.Run("subjectAltNames mismatch is 503 UF", func(t *testing.T) {
		if code, body := get("/wrongsan"); code != 503 {
			t.Fatalf("got %d %q, want 503", code, body)
		}
		env.logLine(t, "/wrongsan", " 503 UF", "SAN_MISMATCH")
	})
	t.Run("missing CA ConfigMap: 500 and ResolvedRefs False", func(t *testing.T) {
		if code, body := get("/noca"); code != 500 || !strings.Contains(body, "BackendTLSPolicy web/noca") {
			t.Fatalf("got %d %q, want a 500 naming the policy", code, body)
		}
		st := testkit.GatewayAPIStatus(t, gw.admin)
		for k, want := range map[string]string{
			"BackendTLSPolicy web/noca web ResolvedRefs":   "False/InvalidCACertificateRef",
			"BackendTLSPolicy web/noca web Accepted":       "False/NoValidCACertificate",
			"BackendTLSPolicy web/secure web Accepted":     "True/Accepted",
			"BackendTLSPolicy web/secure web ResolvedRefs": "True/ResolvedRefs",
		} {
			if st[k] != want {
				t.Errorf("%s = %q, want %q", k, st[k], want)
			}
		}
		// The ConfigMap appears: the policy resolves and the backend is served over TLS.
		writeFile(t, filepath.Join(config, "noca-ca.yaml"), gwapiCAConfigMap(t, pki, "web", "noca-ca", upHost))
		eventually(t, 5*time.Second, "/noca served once its CA exists", func() error {
			if code, body := get("/noca"); code != 200 || body != "sni="+upHost+" client=-" {
				return fmt.Errorf("got %d %q", code, body)
			}
			return nil
		})
		if st := testkit.GatewayAPIStatus(t, gw.admin); st["BackendTLSPolicy web/noca web ResolvedRefs"] != "True/ResolvedRefs" {
			t.Errorf("ResolvedRefs after the ConfigMap appeared = %q", st["BackendTLSPolicy web/noca web ResolvedRefs"])
		}
	})
	t.Run("half the weight on an invalid backendRef: half the requests answer 500", func(t *testing.T) {
		const n = 40
		ok, failed := 0, 0
		for range n {
			switch code, body := get("/half"); {
			case code == 200 && strings.TrimSpace(body) == "plain":
				ok++
			case code == 500 && strings.Contains(body, "backendRef that cannot be used"):
				failed++
			default:
				t.Fatalf("unexpected answer %d %q", code, body)
			}
		}
		t.Logf("/half: %d of %d answered 200, %d answered 500", ok, n, failed)
		env.logLine(t, "/half", " 500 FC")
		// explain says so for the rule.
		out, err := runStdout(t, "explain", "--config", config, "--port-map", "80=127.0.0.1:"+strconv.Itoa(port), "-o", "json",
			"http://a.example.com:"+strconv.Itoa(port)+"/half")
		if err != nil || !strings.Contains(out, "weight 50 answers 500 (fails closed)") {
			t.Errorf("explain /half: %v\n%s", err, out)
		}
		if ok < n/4 || failed < n/4 {
			t.Errorf("/half: %d answered 200 and %d answered 500, want about half each", ok, failed)
		}
		if st := testkit.GatewayAPIStatus(t, gw.admin); st["HTTPRoute web/r web ResolvedRefs"] != "False/BackendNotFound" {
			t.Errorf("route ResolvedRefs = %q, want False/BackendNotFound", st["HTTPRoute web/r web ResolvedRefs"])
		}
	})
}

// TestGatewayAPIGRPCRoute drives real grpc-go clients and servers through a Gateway API
// Gateway and GRPCRoute in file mode (h2c on the plain listener; the backends' Service
// port has no protocol of its own: the GRPCRoute makes them HTTP/2): exact, header and
// regex method matches in the spec's precedence, a rule filter, and 404 (Unimplemented)
// for a method no rule matches.
func TestGatewayAPIGRPCRoute(t *testing.T) {
	portcullisBin(t)
	config := t.TempDir()
	a, _ := startGRPCBackend(t)
	b, _ := startGRPCBackend(t)
	rule := func(match, backend, tag string) string {
		return fmt.Sprintf(`  - matches: [%s]
    filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-rule, value: %s}]}}]
    backendRefs: [{name: %s, port: 80}]
`, match, tag, backend)
	}
	writeFile(t, filepath.Join(config, "grpc.yaml"), gwbClass+"---\n"+
		gwapiService("web", "grpc-a", a)+"---\n"+gwapiService("web", "grpc-b", b)+"---\n"+
		`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: web}
spec:
  parentRefs: [{name: web}]
  hostnames: [grpc.example.com]
  rules:
`+rule("{method: {service: grpc.testing.TestService}}", "grpc-b", "service")+
		rule(`{method: {type: RegularExpression, service: "grpc\\.testing\\.(TestService|ReconnectService)", method: "Streaming.*"}}`, "grpc-a", "streaming")+
		rule("{method: {service: grpc.testing.TestService, method: UnaryCall}}", "grpc-a", "unary-a")+
		rule("{method: {service: grpc.testing.TestService, method: UnaryCall}, headers: [{name: x-variant, value: b}]}", "grpc-b", "unary-b"))
	port := freePort(t)
	startGateway(t, "--config", config, "--port-map", "80=127.0.0.1:"+strconv.Itoa(port))
	cc, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority("grpc.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	client := testpb.NewTestServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	unary := func(md ...string) string {
		t.Helper()
		var hdr metadata.MD
		_, err := client.UnaryCall(metadata.AppendToOutgoingContext(ctx, md...), &testpb.SimpleRequest{ResponseSize: 3}, grpc.Header(&hdr))
		if err != nil {
			t.Fatalf("UnaryCall %v: %v", md, err)
		}
		if first(hdr, "x-backend") != "grpc" {
			t.Errorf("UnaryCall %v: response headers %v", md, hdr)
		}
		return first(hdr, "x-rule")
	}
	if got := unary(); got != "unary-a" {
		t.Errorf("UnaryCall: rule %q, want unary-a (exact service and method)", got)
	}
	if got := unary("x-variant", "b"); got != "unary-b" {
		t.Errorf("UnaryCall with x-variant b: rule %q, want unary-b (a header match more)", got)
	}
	// The regex's service has more characters than grpc.testing.TestService: it wins
	// (whatever the match type, as the spec orders GRPCRoute rules).
	so, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := so.Recv(); err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	if hdr, _ := so.Header(); first(hdr, "x-rule") != "streaming" {
		t.Errorf("StreamingOutputCall: headers %v, want rule streaming", hdr)
	}
	fd, err := client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fd.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("ping")}}); err != nil {
		t.Fatal(err)
	}
	if r, err := fd.Recv(); err != nil || string(r.GetPayload().GetBody()) != "ping" {
		t.Fatalf("FullDuplexCall: %v %v", r, err)
	}
	if hdr, _ := fd.Header(); first(hdr, "x-rule") != "service" {
		t.Errorf("FullDuplexCall: headers %v, want rule service", hdr)
	}
	_ = fd.CloseSend()
	// No rule matches another service: 404, which gRPC reads as Unimplemented.
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Health/Check: %v, want Unimplemented (no route)", err)
	}
}

// TestGatewayAPITLSTerminate: a TLS listener in mode Terminate with TLSRoutes, driven by a
// real TLS client: the SNI picks the route, the decrypted stream reaches a plain TCP
// backend, or (with a BackendTLSPolicy) is encrypted again towards a TLS backend; a name
// no TLSRoute claims gets no stream.
func TestGatewayAPITLSTerminate(t *testing.T) {
	portcullisBin(t)
	dir := t.TempDir()
	pki, config := filepath.Join(dir, "pki"), filepath.Join(dir, "config")
	if err := os.MkdirAll(config, 0o755); err != nil {
		t.Fatal(err)
	}
	const wild = "*.term.example.com"
	if out, err := run(t, "certs", "--dir", pki, "--host", wild, "--host", upHost); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	echo := startEcho(t, "echo", nil)
	secure := tlsBackend(t, pki, nil)
	tlsRoute := func(name, host, svc string) string {
		return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: %s, namespace: web}
spec:
  parentRefs: [{name: term}]
  hostnames: [%s]
  rules: [{backendRefs: [{name: %s, port: 80}]}]
`, name, host, svc)
	}
	writeFile(t, filepath.Join(config, "term.yaml"), strings.Join([]string{
		testkit.GatewayClassYAML, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: term, namespace: web}
spec:
  gatewayClassName: portcullis
  listeners:
  - {name: tls, port: 8443, protocol: TLS, hostname: "` + wild + `", tls: {mode: Terminate, certificateRefs: [{name: term-cert}]}}
  - {name: tcp, port: 9000, protocol: TCP}
`, `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: half, namespace: web}
spec:
  parentRefs: [{name: term, sectionName: tcp}]
  rules: [{backendRefs: [{name: echo, port: 80, weight: 50}, {name: missing, port: 80, weight: 50}]}]
`,
		gwapiTLSSecret(t, pki, "web", "term-cert", wild),
		gwapiService("web", "echo", echo.port), gwapiService("web", "secure", secure),
		gwapiCAConfigMap(t, pki, "web", "backend-ca", upHost),
		gwbPolicy("secure", "backend-ca", ""),
		tlsRoute("a", "a.term.example.com", "echo"), tlsRoute("s", "s.term.example.com", "secure"),
	}, "---\n"))
	port, tcpPort := freePort(t), freePort(t)
	startGateway(t, "--config", config, "--port-map", "8443=127.0.0.1:"+strconv.Itoa(port), "--port-map", "9000=127.0.0.1:"+strconv.Itoa(tcpPort))
	env := &l4Env{tlsPort: port}
	cfg := func(sni string) *tls.Config {
		return &tls.Config{ServerName: sni, RootCAs: roots(t, pki, wild)}
	}

	c, err := env.tlsDial(t, cfg("a.term.example.com"))
	if err != nil {
		t.Fatalf("a.term.example.com: %v", err)
	}
	if got := exchange(t, c, bufio.NewReader(c), "hello"); got != "echo:hello" {
		t.Errorf("a.term.example.com: got %q, want echo:hello", got)
	}
	c.Close()

	// The stream to s.term.example.com is TLS again towards the backend (BackendTLSPolicy):
	// an HTTP request inside it reaches the HTTPS backend, which saw the policy's SNI.
	c, err = env.tlsDial(t, cfg("s.term.example.com"))
	if err != nil {
		t.Fatalf("s.term.example.com: %v", err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: s.term.example.com\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("s.term.example.com: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "sni="+upHost+" client=-" {
		t.Errorf("s.term.example.com: %d %q, want 200 sni=%s", resp.StatusCode, body, upHost)
	}
	c.Close()

	env.mustRefuse(t, cfg("other.term.example.com"), "a name no TLSRoute claims")

	// TCPRoute with half its weight on a missing Service: about half the connections are
	// refused, the others reach the echo backend (the pick is random per connection).
	const n = 40
	served, refused := 0, 0
	for range n {
		c := dialTCP(t, tcpPort)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			refused++
			c.Close()
			continue
		}
		switch line, err := bufio.NewReader(c).ReadString('\n'); {
		case err == nil && line == "echo:ping\n":
			served++
		case err != nil && line == "":
			refused++
		default:
			t.Fatalf("unexpected reply %q (%v)", line, err)
		}
		c.Close()
	}
	t.Logf("TCPRoute 50/50 valid/invalid: %d of %d connections served, %d refused", served, n, refused)
	if served < n/8 || refused < n/8 {
		t.Errorf("%d served and %d refused of %d, want about half each", served, refused, n)
	}
}
