package dataplane_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// flaky answers the first fails requests with status, then echoes; n counts requests.
func flaky(t *testing.T, fails int64, status int, n *atomic.Int64) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if n.Add(1) <= fails {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "failing")
			return
		}
		_, _ = io.WriteString(w, "ok:"+string(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func withForward(r snapshot.Route, edit func(f *snapshot.Forward)) snapshot.Route {
	edit(r.Forward)
	return r
}

func send(t *testing.T, c *http.Client, method, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestRetries(t *testing.T) {
	var n503, nDefault, nPost atomic.Int64
	be503 := flaky(t, 2, 503, &n503)
	beDefault := flaky(t, 1, 503, &nDefault)
	bePost := flaky(t, 1, 502, &nPost)
	dead := deadAddr(t)
	onStatus := &snapshot.Retry{Retries: 3, On: snapshot.RetryStatusCodes, StatusCodes: []int{503}}
	vh := snapshot.VirtualHost{Name: "all", Domains: []string{"*"}, Routes: []snapshot.Route{
		withForward(forward("503", "c503"), func(f *snapshot.Forward) { f.Retry = onStatus }),
		withForward(forward("post", "cpost"), func(f *snapshot.Forward) {
			f.Retry = &snapshot.Retry{Retries: 1, On: snapshot.RetryGatewayError}
		}),
		withForward(forward("off", "coff"), func(f *snapshot.Forward) { f.Retry = &snapshot.Retry{} }),
		forward("default", "cdefault"),
	}}
	vh.Routes[0].Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/503"}}}
	vh.Routes[1].Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/post"}}}
	vh.Routes[2].Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/off"}}}
	g, c := plainGateway(t, vh,
		cluster("c503", hostPort(be503)),
		cluster("cpost", hostPort(bePost)),
		cluster("coff", dead),
		cluster("cdefault", dead, hostPort(beDefault)))
	base := "http://" + g.dp.Addr(80).String()

	// Two 503s, then success: three attempts, the client sees only the success.
	if resp, body := send(t, c, "GET", base+"/503", ""); resp.StatusCode != 200 || body != "ok:" || n503.Load() != 3 {
		t.Errorf("retry on 503: %d %q after %d attempts, want 200 after 3", resp.StatusCode, body, n503.Load())
	}
	// The body is replayed on the retry.
	if resp, body := send(t, c, "POST", base+"/post", "payload"); resp.StatusCode != 200 || body != "ok:payload" || nPost.Load() != 2 {
		t.Errorf("POST replay: %d %q after %d attempts", resp.StatusCode, body, nPost.Load())
	}
	// Istio's default: a connect failure goes to another endpoint; a 503 is not retried.
	for range 4 {
		nDefault.Store(1) // every request reaching the backend succeeds
		if resp, _ := send(t, c, "GET", base+"/", ""); resp.StatusCode != 200 {
			t.Errorf("default policy over a dead endpoint: %d, want 200", resp.StatusCode)
		}
	}
	nDefault.Store(0)
	for i := 0; i < 2; i++ { // round robin: one of these two reaches the live endpoint first
		send(t, c, "GET", base+"/", "")
	}
	if got := nDefault.Load(); got != 2 {
		t.Errorf("default policy retried a 503: backend saw %d requests for 2, want 2", got)
	}
	// attempts 0: no retry of a connect failure.
	if resp, _ := send(t, c, "GET", base+"/off", ""); resp.StatusCode != 503 {
		t.Errorf("retries off, dead endpoint: %d, want 503", resp.StatusCode)
	}
}

// A response that began is never retried, even if it then fails.
func TestNoRetryAfterResponseBegan(t *testing.T) {
	var n atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		c, _, _ := http.NewResponseController(w).Hijack()
		_ = c.Close()
	}))
	t.Cleanup(be.Close)
	route := withForward(forward("all", "be"), func(f *snapshot.Forward) {
		f.Retry = &snapshot.Retry{Retries: 3, On: snapshot.Retry5xx | snapshot.RetryReset}
	})
	g, c := plainGateway(t, snapshot.VirtualHost{Name: "all", Domains: []string{"*"}, Routes: []snapshot.Route{route}}, cluster("be", hostPort(be)))
	resp, err := c.Get("http://" + g.dp.Addr(80).String() + "/")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("a truncated response reached the client complete")
	}
	if n.Load() != 1 {
		t.Errorf("backend saw %d attempts, want 1", n.Load())
	}
}

func TestTimeouts(t *testing.T) {
	var n atomic.Int64
	slowFirst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		_, _ = io.WriteString(w, "second")
	}))
	t.Cleanup(slowFirst.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	vh := snapshot.VirtualHost{Name: "all", Domains: []string{"*"}, Routes: []snapshot.Route{
		withForward(forward("pertry", "first"), func(f *snapshot.Forward) {
			f.Retry = &snapshot.Retry{Retries: 2, PerTryTimeoutMillis: 100, On: snapshot.RetryGatewayError}
		}),
		withForward(forward("route", "slow"), func(f *snapshot.Forward) { f.TimeoutMillis = 200 }),
	}}
	vh.Routes[0].Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/pertry"}}}
	g, c := plainGateway(t, vh, cluster("first", hostPort(slowFirst)), cluster("slow", hostPort(slow)))
	base := "http://" + g.dp.Addr(80).String()
	start := time.Now()
	if resp, body := send(t, c, "GET", base+"/pertry", ""); resp.StatusCode != 200 || body != "second" {
		t.Errorf("per-try timeout then retry: %d %q", resp.StatusCode, body)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("per-try timeout did not cut the first attempt (%v)", el)
	}
	resp, body := send(t, c, "GET", base+"/", "")
	if resp.StatusCode != 504 || !strings.Contains(body, "upstream request timeout") {
		t.Errorf("route timeout: %d %q, want 504 upstream request timeout", resp.StatusCode, body)
	}
}

func TestFaultInjection(t *testing.T) {
	be := backend(t, "be")
	vh := snapshot.VirtualHost{Name: "all", Domains: []string{"*"}, Routes: []snapshot.Route{
		forward("half", "be"), forward("delay", "be"), forward("grpc", "be"),
	}}
	vh.Routes[0].Fault = &snapshot.Fault{Abort: &snapshot.FaultAbort{HTTPStatus: 418, GRPCStatus: -1, Fraction: 500000}}
	vh.Routes[0].Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/half"}}}
	vh.Routes[1].Fault = &snapshot.Fault{Delay: &snapshot.FaultDelay{DelayMillis: 300, Fraction: snapshot.Million}}
	vh.Routes[1].Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/delay"}}}
	vh.Routes[2].Fault = &snapshot.Fault{Abort: &snapshot.FaultAbort{GRPCStatus: 14, Fraction: snapshot.Million}}
	g, c := plainGateway(t, vh, cluster("be", hostPort(be)))
	base := "http://" + g.dp.Addr(80).String()
	aborted := 0
	for range 1000 {
		resp, body := send(t, c, "GET", base+"/half", "")
		switch {
		case resp.StatusCode == 418 && body == "fault filter abort":
			aborted++
		case resp.StatusCode != 200:
			t.Fatalf("unexpected %d %q", resp.StatusCode, body)
		}
	}
	if aborted < 440 || aborted > 560 { // 50 % of 1,000: ±6 standard deviations (σ ≈ 16)
		t.Errorf("aborted %d of 1000, want about 500", aborted)
	}
	start := time.Now()
	if resp, _ := send(t, c, "GET", base+"/delay", ""); resp.StatusCode != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("delay: %d after %v, want 200 after >= 300ms", resp.StatusCode, time.Since(start))
	}
	resp, body := send(t, c, "POST", base+"/grpc", "x", "Content-Type", "application/grpc")
	if resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != "14" || body != "" {
		t.Errorf("gRPC abort: %d grpc-status %q body %q", resp.StatusCode, resp.Header.Get("Grpc-Status"), body)
	}
}

func TestMirror(t *testing.T) {
	be := backend(t, "be")
	var mirrored atomic.Int64
	var bodies atomic.Value
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies.Store(r.Host + " " + string(b))
		mirrored.Add(1)
	}))
	t.Cleanup(mirror.Close)
	block := make(chan struct{})
	slowMirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slowMirror.Close)
	t.Cleanup(func() { close(block) })
	vh := snapshot.VirtualHost{Name: "all", Domains: []string{"*"}, Routes: []snapshot.Route{
		withForward(forward("slow", "be"), func(f *snapshot.Forward) {
			f.Mirrors = []snapshot.Mirror{{Cluster: "slowmirror", Fraction: snapshot.Million}}
		}),
		withForward(forward("all", "be"), func(f *snapshot.Forward) {
			f.Mirrors = []snapshot.Mirror{{Cluster: "mirror", Fraction: snapshot.Million}}
		}),
	}}
	vh.Routes[0].Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/slow"}}}
	g, c := plainGateway(t, vh, cluster("be", hostPort(be)), cluster("mirror", hostPort(mirror)), cluster("slowmirror", hostPort(slowMirror)))
	base := "http://" + g.dp.Addr(80).String()
	for range 10 {
		if resp, _ := send(t, c, "POST", base+"/", "copy me"); resp.StatusCode != 200 {
			t.Fatalf("main request: %d", resp.StatusCode)
		}
	}
	waitFor(t, "10 mirrored requests", func() bool { return mirrored.Load() == 10 })
	if got, _ := bodies.Load().(string); !strings.HasPrefix(got, g.dp.Addr(80).String()+" copy me") && !strings.HasSuffix(got, " copy me") {
		t.Errorf("mirrored request: %q", got)
	}
	start := time.Now()
	for range 5 {
		if resp, _ := send(t, c, "GET", base+"/slow", ""); resp.StatusCode != 200 {
			t.Fatalf("main request with a stuck mirror: %d", resp.StatusCode)
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("a stuck mirror delayed the main requests (%v)", el)
	}
}

func TestCORS(t *testing.T) {
	be := backend(t, "be")
	route := forward("all", "be")
	route.CORS = &snapshot.CORS{
		AllowOrigins: []snapshot.StringMatch{{Kind: snapshot.Exact, Value: "https://app.example.com"}, {Kind: snapshot.Regex, Value: `https://.*\.dev\.example`}},
		AllowMethods: "GET,POST", AllowHeaders: "content-type", ExposeHeaders: "x-trace", MaxAge: "600",
		AllowCredentials: true, ForwardUnmatchedPreflights: true,
	}
	ignore := prefixRoute("ignore", "/ignore", &snapshot.CORS{AllowOrigins: []snapshot.StringMatch{{Kind: snapshot.Exact, Value: "https://app.example.com"}}})
	base, c := corsGateway(t, be, ignore, route)

	resp, body := send(t, c, "OPTIONS", base+"/", "", "Origin", "https://x.dev.example", "Access-Control-Request-Method", "POST")
	h := resp.Header
	if resp.StatusCode != 200 || body != "" || h.Get("Access-Control-Allow-Origin") != "https://x.dev.example" ||
		h.Get("Access-Control-Allow-Methods") != "GET,POST" || h.Get("Access-Control-Allow-Headers") != "content-type" ||
		h.Get("Access-Control-Max-Age") != "600" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight: %d %q %v", resp.StatusCode, body, h)
	}
	// Simple request from an allowed origin: the backend answers, the gateway adds headers.
	resp, body = send(t, c, "GET", base+"/", "", "Origin", "https://app.example.com")
	if resp.StatusCode != 200 || !strings.Contains(body, `"backend":"be"`) || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		resp.Header.Get("Access-Control-Expose-Headers") != "x-trace" {
		t.Errorf("simple request: %d %v", resp.StatusCode, resp.Header)
	}
	// Another origin: no CORS headers; its preflight is forwarded (FORWARD, the default)...
	resp, body = send(t, c, "OPTIONS", base+"/", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(body, `"method":"OPTIONS"`) {
		t.Errorf("unmatched preflight, FORWARD: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// ... or answered 200 without them (IGNORE).
	resp, body = send(t, c, "OPTIONS", base+"/ignore", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unmatched preflight, IGNORE: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	a := hostPort(s)
	s.Close()
	return a
}

// A protocol upgrade goes through the retry writer (Istio's default policy) and still
// becomes a tunnel: 101 is a final answer, never retried, and the hijack reaches the
// client's connection.
func TestUpgradeThroughRetryPolicy(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "no upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo " + line)
		_ = brw.Flush()
	}))
	t.Cleanup(be.Close)
	c := rawConnTo(t, hostPort(be))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	_, _ = io.WriteString(c, "hello\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo hello\n" {
		t.Errorf("tunnel: %q %v", line, err)
	}
}

// Istio's default policy retries a gRPC answer of UNAVAILABLE (grpc-status in the
// response head, a trailers-only answer) and not one of INTERNAL.
func TestDefaultRetryGRPCStatus(t *testing.T) {
	var n atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		switch {
		case r.URL.Path == "/internal":
			n.Add(1)
			w.Header().Set("Grpc-Status", "13")
		case n.Add(1) == 1:
			w.Header().Set("Grpc-Status", "14")
		default:
			w.Header().Set("Grpc-Status", "0")
		}
	}))
	t.Cleanup(be.Close)
	g, c := plainGateway(t, snapshot.VirtualHost{Name: "all", Domains: []string{"*"},
		Routes: []snapshot.Route{forward("all", "be")}}, cluster("be", hostPort(be)))
	base := "http://" + g.dp.Addr(80).String()
	resp, _ := send(t, c, "POST", base+"/svc/Method", "x", "Content-Type", "application/grpc")
	if resp.Header.Get("Grpc-Status") != "0" || n.Load() != 2 {
		t.Errorf("UNAVAILABLE then OK: grpc-status %q after %d attempts, want 0 after 2", resp.Header.Get("Grpc-Status"), n.Load())
	}
	n.Store(0)
	resp, _ = send(t, c, "POST", base+"/internal", "x", "Content-Type", "application/grpc")
	if resp.Header.Get("Grpc-Status") != "13" || n.Load() != 1 {
		t.Errorf("INTERNAL: grpc-status %q after %d attempts, want 13 after 1", resp.Header.Get("Grpc-Status"), n.Load())
	}
}

// rawConnTo starts a plain gateway whose only route forwards to backend and returns a raw
// client connection to it (closed at the end of the test, 10 s deadline).
func rawConnTo(t *testing.T, backend string) net.Conn {
	t.Helper()
	g, _ := plainGateway(t, snapshot.VirtualHost{Name: "all", Domains: []string{"*"},
		Routes: []snapshot.Route{forward("all", "be")}}, cluster("be", backend))
	c, err := net.Dial("tcp", g.dp.Addr(80).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// wantHeaders fails for each header of want that h lacks or has another value of.
func wantHeaders(t *testing.T, what string, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := h[k]; !ok || len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

// prefixRoute is a route to cluster "be" for the paths under prefix, with CORS policy c.
func prefixRoute(name, prefix string, c *snapshot.CORS) snapshot.Route {
	r := forward(name, "be")
	r.Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: prefix}}}
	r.CORS = c
	return r
}

// corsGateway serves routes on one virtual host, cluster "be" being backend be; it returns
// the base URL and a client.
func corsGateway(t *testing.T, be *httptest.Server, routes ...snapshot.Route) (string, *http.Client) {
	g, c := plainGateway(t, snapshot.VirtualHost{Name: "all", Domains: []string{"*"}, Routes: routes}, cluster("be", hostPort(be)))
	return "http://" + g.dp.Addr(80).String(), c
}

// TestCORSGatewayAPI: a Gateway API CORS filter's answers differ from Envoy's where that
// spec says: the preflight carries -Expose-Headers, "*" headers with no request headers
// send no -Allow-Headers, and "*" expose headers with credentials list the response's names.
func TestCORSGatewayAPI(t *testing.T) {
	be := backend(t, "be")
	anyOrigin := []snapshot.StringMatch{{Kind: snapshot.Exact, Value: "*"}}
	route := forward("all", "be")
	route.CORS = &snapshot.CORS{AllowOrigins: anyOrigin, AllowMethods: "GET,OPTIONS", AllowHeaders: "x-h1,x-h2",
		ExposeHeaders: "x-h3,x-h4", MaxAge: "3600", AllowCredentials: true, GatewayAPI: true}
	star := prefixRoute("star", "/star", &snapshot.CORS{AllowOrigins: anyOrigin, AllowMethods: "*", AllowHeaders: "*",
		ExposeHeaders: "*", MaxAge: "5", AllowCredentials: true, GatewayAPI: true})
	base, c := corsGateway(t, be, star, route)

	resp, body := send(t, c, "OPTIONS", base+"/", "", "Origin", "https://www.foo.com", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != 200 || body != "" {
		t.Errorf("preflight answered %d %q", resp.StatusCode, body)
	}
	wantHeaders(t, "preflight", resp.Header, map[string]string{"Access-Control-Allow-Origin": "https://www.foo.com",
		"Access-Control-Expose-Headers": "x-h3,x-h4", "Access-Control-Allow-Methods": "GET,OPTIONS",
		"Access-Control-Allow-Headers": "x-h1,x-h2", "Access-Control-Max-Age": "3600", "Access-Control-Allow-Credentials": "true"})
	// "*": the requested method and headers are echoed; none requested, none sent; no "*"
	// expose list on a preflight with credentials.
	resp, _ = send(t, c, "OPTIONS", base+"/star", "", "Origin", "https://o.example", "Access-Control-Request-Method", "PUT",
		"Access-Control-Request-Headers", "x-a, x-b")
	wantHeaders(t, "preflight with \"*\"", resp.Header, map[string]string{"Access-Control-Allow-Methods": "PUT",
		"Access-Control-Allow-Headers": "x-a, x-b", "Access-Control-Allow-Credentials": "true", "Access-Control-Allow-Origin": "https://o.example"})
	resp, _ = send(t, c, "OPTIONS", base+"/star", "", "Origin", "https://o.example", "Access-Control-Request-Method", "PUT")
	if _, ok := resp.Header["Access-Control-Allow-Headers"]; ok {
		t.Errorf("Allow-Headers with no request headers: %v", resp.Header)
	}
	if _, ok := resp.Header["Access-Control-Expose-Headers"]; ok {
		t.Errorf("Expose-Headers \"*\" with credentials on a preflight: %v", resp.Header)
	}
	// A request: "*" with credentials exposes the response's own header names.
	resp, _ = send(t, c, "GET", base+"/star", "", "Origin", "https://o.example")
	if e := resp.Header.Get("Access-Control-Expose-Headers"); e == "*" || !strings.Contains(e, "content-type") {
		t.Errorf("Expose-Headers on a response: %q", e)
	}
}
