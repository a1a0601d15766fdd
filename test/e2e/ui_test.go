package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of Debian's chromium, or skips the test.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" { // CI installs it (.ci/run): a missing browser must not pass silently
		t.Fatal("chromium is not installed; .ci/run installs it")
	}
	t.Skip("chromium is not installed (apt-get install chromium; .ci/run installs it): skipping the browser test")
	return ""
}

// metricRequests sums portcullis_requests_total for a virtual host from /metrics.
func metricRequests(t *testing.T, admin, host string) int {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "portcullis_requests_total{") && strings.Contains(line, `host="`+host+`"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			total += v
		}
	}
	return int(total)
}

// TestWebView drives /ui in headless Chromium: the page renders the walkthrough, its
// request counts are /metrics' counts, and it follows a configuration change (a new
// VirtualService file) and a credential rotation (new serial) without a reload.
func TestWebView(t *testing.T) {
	path := chromium(t)
	start := time.Now()
	e := setupWalkthrough(t)
	const fe, inv = "frontend.foocorp.com", "inventory.foocorp.com"
	for _, p := range []string{"/", "/", "/", "/nope"} {
		if _, _, code := e.curl(t, fe, fe, fe, p, "-o", "/dev/null"); code != 0 {
			t.Fatalf("curl %s: exit %d", p, code)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1300, 1000))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// text is the text of the first element sel selects, "" when there is none.
	text := func(sel string) string {
		t.Helper()
		js := fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	// waitFor polls the page (it polls the gateway every second) until f holds.
	waitFor := func(what string, f func() error) {
		t.Helper()
		eventually(t, 10*time.Second, what, f)
		t.Logf("%s: at %s", what, time.Since(start).Round(time.Millisecond))
	}

	t.Logf("setup took %s", time.Since(start).Round(time.Millisecond))
	run("open /ui", chromedp.Navigate("http://"+e.gw.admin+"/ui"),
		chromedp.WaitVisible(`body[data-polls]`))

	feHost := fe + ":443"
	want := metricRequests(t, e.gw.admin, feHost)
	if want != 4 {
		t.Fatalf("/metrics counts %d requests for %s, sent 4", want, feHost)
	}
	waitFor("the page's count agrees with /metrics", func() error {
		if got := text(`#traffic tr[data-host="` + feHost + `"] .requests`); got != strconv.Itoa(want) {
			return fmt.Errorf("page shows %q, /metrics %d", got, want)
		}
		return nil
	})
	if got := text(`#traffic tr[data-host="` + feHost + `"] .client`); got != "1" {
		t.Errorf("4xx count %q, want 1 (the /nope 404)", got)
	}
	for _, sel := range []string{`#listeners tbody tr`, `#credentials tr[data-name="secret:istio-system/frontend-credential"]`, `#routes tr[data-route="default/frontend/0"]`} {
		if text(sel) == "" {
			t.Errorf("%s is not rendered", sel)
		}
	}
	// More traffic: the page follows.
	if _, _, code := e.curl(t, fe, fe, fe, "/", "-o", "/dev/null"); code != 0 {
		t.Fatal("curl failed")
	}
	waitFor("the page follows new requests", func() error {
		want := metricRequests(t, e.gw.admin, feHost)
		if got := text(`#traffic tr[data-host="` + feHost + `"] .requests`); got != strconv.Itoa(want) || want != 5 {
			return fmt.Errorf("page shows %q, /metrics %d", got, want)
		}
		return nil
	})

	// The explain form.
	run("explain form", chromedp.SetValue(`#explain-url`, "https://"+inv+"/"),
		chromedp.Click(`#explain-go`),
		chromedp.WaitVisible(`#explain-out[data-done]`))
	if got := text(`#explain-out`); !strings.Contains(got, "client certificate required") {
		t.Errorf("explain form output:\n%s", got)
	}
	e.screenshot(t, bctx, "ui.png")

	// A configuration change: a new VirtualService file.
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontend-extra}
spec:
  hosts: [frontend.foocorp.com]
  gateways: [foocorp-gateway]
  http:
  - name: extra
    match: [{uri: {prefix: /extra}}]
    route: [{destination: {host: frontend.ux.svc.cluster.local, port: {number: 80}}}]
`
	if err := os.WriteFile(filepath.Join(e.config, "extra.yaml"), []byte(vs), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("the page shows the new VirtualService", func() error {
		if text(`#routes tr[data-route="default/frontend-extra/extra"]`) == "" {
			return fmt.Errorf("rule default/frontend-extra/extra not shown yet")
		}
		if !strings.Contains(text(`#diagnostics`), "also claimed by VirtualService default/frontend-extra") {
			return fmt.Errorf("the merge warning is not shown")
		}
		return nil
	})

	// A credential rotation: the new serial and expiry appear.
	row := `#credentials tr[data-name="secret:istio-system/inventory-credential"]`
	before := text(row + ` .serial`)
	e.rotateServer(t, inv)
	waitFor("the page shows the rotated credential", func() error {
		got := text(row + ` .serial`)
		if got == before || got == "" || got == "-" {
			return fmt.Errorf("serial still %q", got)
		}
		if want := e.certsSerial(t, "secret:istio-system/inventory-credential"); got != want {
			return fmt.Errorf("page serial %q, /certs %q", got, want)
		}
		return nil
	})
	if exp := text(row + ` .expiry`); !strings.Contains(exp, "d ") {
		t.Errorf("time to expiry %q", exp)
	}
}

// getJSON decodes a JSON document from url.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

// certsSerial is the serial /certs reports for a credential.
func (e *walkthroughEnv) certsSerial(t *testing.T, key string) string {
	t.Helper()
	var st []struct{ Key, Serial string }
	getJSON(t, "http://"+e.gw.admin+"/certs", &st)
	for _, s := range st {
		if s.Key == key {
			return s.Serial
		}
	}
	t.Fatalf("/certs has no %s", key)
	return ""
}

// screenshot saves a full-page PNG: into docs/images when PORTCULLIS_SCREENSHOTS=1 (how
// the documentation's pictures are made), else into the test's temporary directory.
func (e *walkthroughEnv) screenshot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := t.TempDir()
	if os.Getenv("PORTCULLIS_SCREENSHOTS") == "1" {
		dir = repoFile("docs", "images")
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
