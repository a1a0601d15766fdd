package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/explain"
)

// explainCase is one walkthrough request: what explain must say, and curl then checks the
// running gateway does exactly that.
type explainCase struct {
	name, sni, host, certHost, path string
	outcome                         string
	status                          int
}

// explainCLI runs `portcullis explain -o json` for c against the walkthrough's config.
func (e *walkthroughEnv) explainCLI(t *testing.T, c explainCase) *explain.Decision {
	t.Helper()
	p := strconv.Itoa(e.port)
	args := []string{"explain", "--config", e.config, "--port-map", "443=127.0.0.1:" + p, "-o", "json", "-H", "Host: " + c.host}
	if c.certHost != "" {
		args = append(args, "--cert", e.clientFile(c.certHost, "cert"), "--key", e.clientFile(c.certHost, "key"))
	}
	args = append(args, "https://"+c.sni+":"+p+c.path)
	out, err := runStdout(t, args...)
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	var d explain.Decision
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("explain output: %v\n%s", err, out)
	}
	return &d
}

// runStdout runs the binary and returns its stdout only (the stderr notes are not JSON).
func runStdout(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, portcullisBin(t), args...).Output()
	return string(out), err
}

func (e *walkthroughEnv) clientFile(host, kind string) string {
	if kind == "cert" {
		return filepath.Join(e.pki, host, "4_client", "certs", host+".cert.pem")
	}
	return filepath.Join(e.pki, host, "4_client", "private", host+".key.pem")
}

// explainAdmin asks the running gateway's /explain (live snapshot) about c.
func (e *walkthroughEnv) explainAdmin(t *testing.T, c explainCase) *explain.Decision {
	t.Helper()
	form := url.Values{"url": {"https://" + c.sni + ":" + strconv.Itoa(e.port) + c.path}, "header": {"Host: " + c.host}}
	if c.certHost != "" {
		pem, err := os.ReadFile(e.clientFile(c.certHost, "cert"))
		if err != nil {
			t.Fatal(err)
		}
		form.Set("cert", string(pem))
	}
	resp, err := http.PostForm("http://"+e.gw.admin+"/explain", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/explain: %d %s", resp.StatusCode, b)
	}
	var d explain.Decision
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("/explain: %v\n%s", err, b)
	}
	return &d
}

// agree asserts d is c's expected outcome and that curl gets exactly that from the gateway.
func (e *walkthroughEnv) agree(t *testing.T, c explainCase, d *explain.Decision, via string) {
	t.Helper()
	if d.Outcome != c.outcome || d.Status != c.status {
		t.Fatalf("%s: outcome %s %d (%s), want %s %d", via, d.Outcome, d.Status, d.Summary, c.outcome, c.status)
	}
	out, errOut, code := e.curl(t, c.sni, c.host, c.certHost, c.path, "-o", "/dev/null", "-w", "%{http_code}")
	switch d.Outcome {
	case explain.OutcomeHandshake:
		if code == 0 || out != "000" {
			t.Fatalf("%s says %q but curl got exit %d, status %s", via, d.Summary, code, out)
		}
	case explain.OutcomeForward:
		body, _, code := e.curl(t, c.sni, c.host, c.certHost, c.path)
		if code != 0 || !strings.Contains(body, frontendBody) && !strings.Contains(body, inventoryBody) {
			t.Fatalf("%s says %q but curl got exit %d: %q", via, d.Summary, code, body)
		}
	case explain.OutcomeResponse:
		if code != 0 || out != strconv.Itoa(d.Status) {
			t.Fatalf("%s says %q but curl got exit %d, status %s (%s)", via, d.Summary, code, out, errOut)
		}
	default:
		t.Fatalf("unexpected outcome %s", d.Outcome)
	}
}

// TestExplainAgreesWithGateway: for each walkthrough outcome, `portcullis explain` and the
// admin /explain say what happens, and curl against the running gateway sees it happen.
func TestExplainAgreesWithGateway(t *testing.T) {
	e := setupWalkthrough(t)
	const fe, inv = "frontend.foocorp.com", "inventory.foocorp.com"
	cases := []explainCase{
		{"200 frontend", fe, fe, fe, "/", explain.OutcomeForward, 0},
		{"200 inventory", inv, inv, inv, "/", explain.OutcomeForward, 0},
		{"404 no rule", fe, fe, fe, "/nope", explain.OutcomeResponse, 404},
		{"421 SNI frontend Host inventory", fe, inv, fe, "/", explain.OutcomeResponse, 421},
		{"no client cert", inv, inv, "", "/", explain.OutcomeHandshake, 0},
		{"other team's client cert", inv, inv, fe, "/", explain.OutcomeHandshake, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := e.explainCLI(t, c)
			e.agree(t, c, d, "explain")
			e.agree(t, c, e.explainAdmin(t, c), "/explain")
			if c.outcome == explain.OutcomeForward && (d.Destination == nil || len(d.Destination.Clusters[0].Endpoints) != 1) {
				t.Fatalf("no endpoint in %+v", d.Destination)
			}
			if c.status == 404 && (d.Routing == nil || len(d.Routing.Routes) != 1 || d.Routing.Routes[0].Clauses[0] == "") {
				t.Fatalf("404 without the rule that did not match: %+v", d.Routing)
			}
		})
	}

	t.Run("text at the admin port", func(t *testing.T) {
		q := url.Values{"url": {"https://" + inv + "/"}, "format": {"text"}}
		resp, err := http.Get("http://" + e.gw.admin + "/explain?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), "REFUSED: client certificate required") {
			t.Fatalf("text explain:\n%s", b)
		}
	})

	t.Run("503 once the inventory service has no endpoints", func(t *testing.T) {
		c := explainCase{"503", inv, inv, inv, "/", explain.OutcomeResponse, 503}
		// Only the frontend's ServiceEntry stays: inventory's destination resolves to nothing.
		if err := os.WriteFile(filepath.Join(e.config, "backends.yaml"), []byte(e.frontendEntry(t)), 0o644); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "live /explain sees the change", func() error {
			if d := e.explainAdmin(t, c); d.Status != 503 {
				return fmt.Errorf("still %s %d", d.Outcome, d.Status)
			}
			return nil
		})
		e.agree(t, c, e.explainAdmin(t, c), "/explain")
		e.agree(t, c, e.explainCLI(t, c), "explain")
	})
}

// frontendEntry is the walkthrough's backends.yaml with the frontend's ServiceEntry only.
func (e *walkthroughEnv) frontendEntry(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(e.config, "backends.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, ok := strings.Cut(string(b), "---\n")
	if !ok || !strings.Contains(first, "frontend.ux.svc") {
		t.Fatalf("unexpected backends.yaml:\n%s", b)
	}
	return first
}
