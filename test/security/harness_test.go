package security

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/testkit"
	"github.com/portcullis/portcullis/test/gatewaytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The hosts of the test gateway, all on Gateway port 443.
const (
	fe  = "frontend.foocorp.com"  // MUTUAL, its own CA (walkthrough)
	inv = "inventory.foocorp.com" // MUTUAL, its own CA (walkthrough)
	pub = "public.foocorp.com"    // SIMPLE
	opt = "partner.foocorp.com"   // OPTIONAL_MUTUAL, its own CA
)

var allHosts = []string{fe, inv, pub, opt}

// env is one running gateway with its PKI and echo backends.
type env struct {
	t     testing.TB
	dir   string
	pki   string
	gw    *app.Gateway
	logs  *testkit.SyncBuffer
	admin string
	echo  *echoLog
}

// newEnv starts a gateway; tune adjusts its options (timeouts, limits) before New.
func newEnv(t testing.TB, tune func(*app.Options)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), logs: &testkit.SyncBuffer{}, echo: &echoLog{}}
	e.pki = filepath.Join(e.dir, "pki")
	config := filepath.Join(e.dir, "config")
	if err := os.MkdirAll(config, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := certs.Generate(certs.Options{Dir: e.pki, Hosts: allHosts}); err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{}
	for _, h := range allHosts {
		name := label(h)
		ports[name] = e.echo.serve(t, name)
	}
	write(t, filepath.Join(config, "gateway.yaml"), gatewayYAML)
	write(t, filepath.Join(config, "virtualservices.yaml"), virtualServicesYAML)
	write(t, filepath.Join(config, "backends.yaml"), serviceEntries(ports))
	ms, err := certs.SecretManifests(e.pki, allHosts, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		write(t, filepath.Join(config, m.Name+".yaml"), string(m.YAML))
	}
	o := app.Options{
		ConfigPaths:  []string{config},
		PortMap:      map[uint32]string{443: "127.0.0.1:0"},
		AdminAddr:    "127.0.0.1:0",
		DrainTimeout: 2 * time.Second,
		// Resumption on, TLS 1.3 included: the attacks on it must fail where it exists.
		TLS13SessionTickets: true,
	}
	if tune != nil {
		tune(&o)
	}
	gw := gatewaytest.Start(t, o, e.logs)
	e.gw, e.admin = gw, gw.AdminAddr().String()
	testkit.Eventually(t, 10*time.Second, "gateway ready", func() error {
		if gw.Addr(443) == nil {
			return fmt.Errorf("port 443 not listening")
		}
		if code, body := e.adminGet("/healthz/ready"); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	return e
}

// addr is the bound address of Gateway port 443.
func (e *env) addr() string { return e.gw.Addr(443).String() }

// adminGet fetches an admin endpoint.
func (e *env) adminGet(path string) (int, string) {
	e.t.Helper()
	return testkit.Get(e.t, "http://"+e.admin+path)
}

func label(host string) string { l, _, _ := strings.Cut(host, "."); return l }

// seen is what an echo backend received, as it reports it in its response body.
type seen struct {
	Backend    string      `json:"backend"`
	Method     string      `json:"method"`
	Host       string      `json:"host"`
	Path       string      `json:"path"`
	RequestURI string      `json:"requestURI"`
	Header     http.Header `json:"header"`
	Trailer    http.Header `json:"trailer"`
	Body       string      `json:"body"`
}

// echoLog records every request the backends received, so tests can assert that an
// attack never reached any backend.
type echoLog struct {
	mu   sync.Mutex
	reqs []seen
}

func (l *echoLog) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.reqs) }

// since returns the requests received after the first n.
func (l *echoLog) since(n int) []seen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]seen(nil), l.reqs[n:]...)
}

// serve runs an echo backend named name on 127.0.0.1 and returns its port.
func (l *echoLog) serve(t testing.TB, name string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The backends accept h2c upgrades, leniently (without HTTP2-Settings listed in
	// Connection, which a proxy rewrites), as some real ones do: an upgrade the gateway let
	// through would open a tunnel past its routing.
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: lenientH2C(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{Backend: name, Method: r.Method, Host: r.Host, Path: r.URL.Path, RequestURI: r.RequestURI,
			Header: r.Header, Trailer: r.Trailer, Body: string(body)}
		l.mu.Lock()
		l.reqs = append(l.reqs, s)
		l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Backend", name)
		_ = json.NewEncoder(w).Encode(s)
	}))}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lenientH2C serves h, switching to HTTP/2 on any "Upgrade: h2c" that carries
// HTTP2-Settings.
func lenientH2C(h http.Handler) http.Handler {
	up := h2c.NewHandler(h, &http2.Server{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "h2c") && r.Header.Get("HTTP2-Settings") != "" {
			r.Header.Set("Connection", "Upgrade, HTTP2-Settings")
		}
		up.ServeHTTP(w, r)
	})
}
