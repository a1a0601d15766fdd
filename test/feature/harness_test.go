package feature

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/test/gatewaytest"

	"github.com/portcullis/portcullis/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// within is how fast every change must take effect (the promise: about a second).
const within = time.Second

const (
	fe  = "frontend.foocorp.com"
	inv = "inventory.foocorp.com"
)

// setup says how a test environment starts.
type setup struct {
	credentialsDir bool     // secrets in a Kubernetes-style --credentials-dir, not Secret manifests
	withhold       []string // hosts whose secret is not written at start
	require        bool     // --require-credentials
	httpPort       bool     // also map Gateway port 8080 (plain HTTP) to 127.0.0.1:0
	// prepare, when set, runs after the PKI is generated and before the secrets are
	// written and the gateway starts (e.g. to reissue a certificate).
	prepare func(e *env)
	// recheck is app.Options.CredentialRecheck (0: the default).
	recheck time.Duration
}

// env is one running gateway with its PKI, configuration directory and backends.
type env struct {
	t      testing.TB
	dir    string
	pki    string // certs.Generate output, one sub-directory per host
	config string // --config
	creds  string // --credentials-dir ("" when unused)
	gw     *app.Gateway
	logs   *testkit.SyncBuffer
	admin  string
	ports  map[string]int // backend name -> port
	// clientPKI overrides, per host, the PKI whose client certificate get presents.
	clientPKI map[string]string
}

// newEnv writes the walkthrough's configuration (both hosts MUTUAL on 443) and starts
// the gateway. It returns once the gateway listens on 443 and, unless s.require, is ready.
func newEnv(t testing.TB, s setup) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), logs: &testkit.SyncBuffer{}, ports: map[string]int{}, clientPKI: map[string]string{}}
	e.pki = filepath.Join(e.dir, "pki")
	e.config = filepath.Join(e.dir, "config")
	mkdir(t, e.config)
	generatePKI(t, e.pki, fe, inv)
	if s.prepare != nil {
		s.prepare(e)
	}
	for _, name := range []string{"frontend", "inventory", "inventory-v2"} {
		e.ports[name] = backend(t, name)
	}
	e.write("gateway.yaml", gatewayYAML(serverMutual("https-frontend", fe), serverMutual("https-inventory", inv)))
	e.write("virtualservices.yaml", virtualService("frontend", fe, route("/", "frontend"))+"---\n"+
		virtualService("inventory", inv, route("/", "inventory")))
	e.write("backends.yaml", e.serviceEntries())
	if s.credentialsDir {
		e.creds = filepath.Join(e.dir, "credentials")
		mkdir(t, e.creds)
	}
	for _, h := range []string{fe, inv} {
		if !contains(s.withhold, h) {
			e.publishSecret(h, inPlace)
		}
	}
	o := app.Options{
		ConfigPaths:        []string{e.config},
		CredentialsDir:     e.creds,
		PortMap:            map[uint32]string{443: "127.0.0.1:0"},
		AdminAddr:          "127.0.0.1:0",
		RequireCredentials: s.require,
		DrainTimeout:       5 * time.Second,
		CredentialRecheck:  s.recheck,
		// TLS 1.3 resumption on: rotations must force full handshakes on every version.
		TLS13SessionTickets: true,
	}
	if s.httpPort {
		o.PortMap[8080] = "127.0.0.1:0"
	}
	gw := gatewaytest.Start(t, o, e.logs)
	e.gw, e.admin = gw, gw.AdminAddr().String()
	if !s.require {
		e.waitReady(10 * time.Second)
	}
	return e
}

// addr is the bound address of a Gateway port.
func (e *env) addr(port uint32) string {
	e.t.Helper()
	a := e.gw.Addr(port)
	if a == nil {
		e.t.Fatalf("port %d is not listening", port)
	}
	return a.String()
}

func (e *env) waitReady(d time.Duration) {
	e.t.Helper()
	eventually(e.t, d, "gateway ready", func() error {
		code, body := e.adminGet("/healthz/ready")
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

// adminGet fetches an admin endpoint.
func (e *env) adminGet(path string) (int, string) {
	e.t.Helper()
	return testkit.Get(e.t, "http://"+e.admin+path)
}

// write writes a configuration file in place.
func (e *env) write(name, content string) {
	e.t.Helper()
	writeInPlace(e.t, filepath.Join(e.config, name), []byte(content))
}

// eventually polls f until it returns nil or d passes (see testkit.Eventually).
func eventually(t testing.TB, d time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	return testkit.Eventually(t, d, what, f)
}

// backend serves "<name> <path>" on 127.0.0.1 and returns its port.
func backend(t testing.TB, name string) int {
	t.Helper()
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	}))
}

// serve runs h on 127.0.0.1 until the test ends and returns the port.
func serve(t testing.TB, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port
}

// logged polls the log for a line containing every part.
func (e *env) logged(what string, parts ...string) {
	e.t.Helper()
	eventually(e.t, within, "log line "+what, func() error {
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if containsAll(line, parts) {
				return nil
			}
		}
		return fmt.Errorf("no log line with %q", parts)
	})
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mkdir(t testing.TB, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
}
