package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/demo"
)

// validateDir writes the walkthrough manifests (plus extra files) into a new directory.
func validateDir(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "foocorp")
	if out, err := run(t, "certs", "--dir", filepath.Join(dir, "pki"), "--host", "frontend.foocorp.com",
		"--host", "inventory.foocorp.com", "--secrets-out", cfg); err != nil {
		t.Fatalf("certs: %v\n%s", err, out)
	}
	for _, f := range []string{"gateway.yaml", "virtualservices.yaml"} {
		b, err := os.ReadFile(repoFile("internal", "demo", "manifests", f))
		if err != nil {
			t.Fatal(err)
		}
		extra[f] = string(b)
	}
	extra["backends.yaml"] = demo.ServiceEntries(8080, 8081)
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(cfg, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		extra    map[string]string
		wantCode int
		want     []string // substrings of the output
	}{
		{name: "walkthrough is clean", extra: map[string]string{}, wantCode: 0, want: []string{"ok: no findings"}},
		{
			name: "bad enum names file, document, kind, name and field",
			extra: map[string]string{"bad.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [other.foocorp.com]
    tls: {mode: MUTUALL, credentialName: other-credential}
`},
			wantCode: 1,
			want:     []string{"bad.yaml#0 Gateway default/other spec.servers[0].tls.mode", `"MUTUALL"`},
		},
		{
			name: "conflicting server is rejected and named",
			extra: map[string]string{"zz-conflict.yaml": `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: zz-late, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-late, protocol: HTTPS}
    hosts: [inventory.foocorp.com]
    tls: {mode: SIMPLE, credentialName: inventory-credential}
`},
			wantCode: 1,
			want:     []string{"Gateway default/zz-late", "already claimed by server default/foocorp-gateway/https-inventory"},
		},
		{
			name: "header value with CR LF is rejected and named",
			extra: map[string]string{"inject.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inject}
spec:
  hosts: [frontend.foocorp.com]
  gateways: [foocorp-gateway]
  http:
  - match: [{uri: {prefix: /inject}}]
    route: [{destination: {host: frontend.ux.svc.cluster.local, port: {number: 80}}}]
    headers: {response: {set: {x-status: "ok\r\nSet-Cookie: evil=1"}}}
`},
			wantCode: 1,
			want: []string{"inject.yaml#0 VirtualService default/inject spec.http[0].headers.response.set[x-status]",
				`not a valid HTTP field value`, "the rule fails closed"},
		},
		{
			name: "secret whose key does not match its certificate",
			extra: map[string]string{"broken-secret.yaml": `apiVersion: v1
kind: Secret
metadata: {name: frontend-credential, namespace: istio-system}
stringData:
  cert: "not a certificate"
  key: "not a key"
`},
			wantCode: 1,
			want:     []string{"Secret istio-system/frontend-credential"},
		},
		{
			name: "Telemetry access log filter (CEL) is rejected",
			extra: map[string]string{"telemetry.yaml": `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: envoy}]
    filter: {expression: "response.code >= 400"}
`},
			wantCode: 1,
			want:     []string{"telemetry.yaml#0 Telemetry istio-system/mesh-default spec.accessLogging[0].filter", "no CEL evaluator"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validateDir(t, tt.extra)
			out, err := run(t, "validate", "--config", cfg)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s", got, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			jsonOut, err := run(t, "validate", "--config", cfg, "-o", "json")
			var ds []map[string]any
			if jerr := json.Unmarshal([]byte(jsonOut), &ds); jerr != nil {
				t.Fatalf("-o json is not JSON (%v): %s", jerr, jsonOut)
			}
			if (len(ds) > 0) != (tt.wantCode == 1) || exitCode(err) != tt.wantCode {
				t.Fatalf("-o json: %d findings, exit %d", len(ds), exitCode(err))
			}
		})
	}
}

func TestValidateMissingPath(t *testing.T) {
	out, err := run(t, "validate", "--config", filepath.Join(t.TempDir(), "nope"))
	if exitCode(err) != 1 || !strings.Contains(out, "nope") {
		t.Fatalf("exit %d:\n%s", exitCode(err), out)
	}
}

func TestDemoCheck(t *testing.T) {
	out, err := run(t, "demo", "--check", "--dir", t.TempDir(),
		"--port", itoa(freePort(t)), "--admin", "127.0.0.1:"+itoa(freePort(t)))
	if err != nil {
		t.Fatalf("demo --check: %v\n%s", err, out)
	}
	for _, want := range []string{demo.FrontendBody, demo.InventoryBody, "curl -HHost:frontend.foocorp.com"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
