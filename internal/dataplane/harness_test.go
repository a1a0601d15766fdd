package dataplane_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeCreds is an in-memory Credentials.
type fakeCreds struct {
	mu sync.Mutex
	m  map[string]listener.Credential
}

func (f *fakeCreds) Lookup(key string) (listener.Credential, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[key]
	return c, ok
}

func (f *fakeCreds) Set(key string, c listener.Credential) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]listener.Credential{}
	}
	f.m[key] = c
}

// observer records what the dataplane reports.
type observer struct {
	mu       sync.Mutex
	codes    []int
	vhosts   []string
	failures []string
	lerrs    []uint32
}

func (o *observer) Request(vhost string, code int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.vhosts, o.codes = append(o.vhosts, vhost), append(o.codes, code)
}

func (o *observer) HandshakeFailure(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failures = append(o.failures, reason)
}

func (o *observer) ListenerError(port uint32, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lerrs = append(o.lerrs, port)
}

func (o *observer) Failures() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.failures...)
}

// gateway is a running Dataplane on loopback.
type gateway struct {
	dp    *dataplane.Dataplane
	obs   *observer
	stop  func() error // cancels Run and returns its error
	ports map[uint32]string
}

// gatewayPorts are the gateway ports tests may use; each listens on 127.0.0.1:0.
var gatewayPorts = []uint32{80, 443, 8443, 9443}

func startGateway(t testing.TB, snap *snapshot.Snapshot, creds dataplane.Credentials) *gateway {
	t.Helper()
	return startGatewayOpts(t, snap, creds, dataplane.Options{})
}

func startGatewayOpts(t testing.TB, snap *snapshot.Snapshot, creds dataplane.Credentials, opts dataplane.Options) *gateway {
	t.Helper()
	obs := &observer{}
	g := startGatewayObs(t, snap, creds, opts, obs)
	g.obs = obs
	return g
}

// startGatewayObs starts a gateway reporting to obs (g.obs is then nil).
func startGatewayObs(t testing.TB, snap *snapshot.Snapshot, creds dataplane.Credentials, opts dataplane.Options, obs dataplane.Observer) *gateway {
	t.Helper()
	if opts.PortMap == nil {
		opts.PortMap = map[uint32]string{}
		for _, p := range gatewayPorts {
			opts.PortMap[p] = "127.0.0.1:0"
		}
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	dp := dataplane.New(opts, creds, obs, logger)
	if err := dp.Update(snap); err != nil {
		t.Fatalf("Update: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dp.Run(ctx) }()
	waitFor(t, "dataplane ready", dp.Ready)
	var once sync.Once
	var runErr error
	shutdown := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				t.Error("Run did not return")
			}
		})
		return runErr
	}
	var stoppedByTest atomic.Bool
	stop := func() error {
		stoppedByTest.Store(true)
		return shutdown()
	}
	t.Cleanup(func() {
		if err := shutdown(); err != nil && !stoppedByTest.Load() {
			t.Errorf("Run: %v", err)
		}
	})
	return &gateway{dp: dp, stop: stop}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// clientConfig says how a test client connects.
type clientConfig struct {
	Port  uint32 // gateway port, default 443
	SNI   string
	Roots *x509.CertPool
	Cert  *tls.Certificate
	H2    bool
	Cache tls.ClientSessionCache
	// Insecure skips server verification (session-ticket tests offer tickets to other names).
	Insecure    bool
	NoKeepAlive bool   // one connection (and handshake) per request
	MaxVersion  uint16 // client's maximum TLS version; 0 = default
}

// client returns an HTTP client whose connections all go to the gateway port.
func (g *gateway) client(t testing.TB, cc clientConfig) *http.Client {
	t.Helper()
	if cc.Port == 0 {
		cc.Port = 443
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			addr := g.dp.Addr(cc.Port)
			if addr == nil {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: net.ErrClosed}
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr.String())
		},
		TLSClientConfig: &tls.Config{
			ServerName:         cc.SNI,
			RootCAs:            cc.Roots,
			ClientSessionCache: cc.Cache,
			InsecureSkipVerify: cc.Insecure,
			MaxVersion:         cc.MaxVersion,
		},
		ForceAttemptHTTP2: cc.H2,
		DisableKeepAlives: cc.NoKeepAlive,
	}
	if cc.Cert != nil {
		// Always present the certificate, as curl --cert does (a Go client would otherwise
		// withhold one whose issuer the server did not list).
		cert := cc.Cert
		tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert, nil
		}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// echo is what the test backend answers: who it is and what it received.
type echo struct {
	Backend string      `json:"backend"`
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Host    string      `json:"host"`
	Header  http.Header `json:"header"`
	Body    string      `json:"body"`
}

// backend starts an echo backend named name.
func backend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Backend: name, Method: r.Method, Path: r.URL.RequestURI(),
			Host: r.Host, Header: r.Header, Body: string(body)})
	}))
	t.Cleanup(s.Close)
	return s
}

// get performs a GET and decodes the echo (when the status is 200).
func get(t testing.TB, c *http.Client, url string, hdr ...string) (int, echo) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var e echo
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, e
}

func decodeJSON(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// countingDial wraps a dial function, counting connections (single test goroutine use).
func countingDial(dial func(context.Context, string, string) (net.Conn, error), n *int) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		*n++
		return dial(ctx, network, addr)
	}
}

// Saw reports whether a request with this virtual host and status was observed.
func (o *observer) Saw(vhost string, code int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.codes {
		if o.vhosts[i] == vhost && o.codes[i] == code {
			return true
		}
	}
	return false
}
