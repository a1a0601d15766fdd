package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// telemetryYAML is a root-namespace Telemetry with one accessLogging entry.
func telemetryYAML(entry string) string {
	return "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default, namespace: istio-system}\n" +
		"spec:\n  accessLogging:\n  - " + entry + "\n"
}

// TestTelemetryAccessLog: a gateway started without --access-log logs requests to stdout
// in Istio's text format once a Telemetry enables the envoy provider, and stops when the
// Telemetry disables it, without a restart.
func TestTelemetryAccessLog(t *testing.T) {
	e := setupWalkthrough(t)
	const fe = "frontend.foocorp.com"
	file := filepath.Join(e.config, "telemetry.yaml")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The text line of a request to path: `[time] "GET <path> HTTP/2" 200 ...`.
	logged := func(path string) bool {
		return strings.Contains(e.gw.logs.String(), `"GET `+path+` HTTP/2" 200 `)
	}
	get := func(path string) {
		t.Helper()
		if _, errOut, code := e.curl(t, fe, fe, fe, path); code != 0 {
			t.Fatalf("curl %s: %s", path, errOut)
		}
	}

	// waitLogged requests /?<key>=1, 2, ... until one is logged.
	waitLogged := func(key string) {
		t.Helper()
		n := 0
		eventually(t, 15*time.Second, "an access log line for /?"+key, func() error {
			n++
			p := fmt.Sprintf("/?%s=%d", key, n)
			get(p)
			if !logged(p) {
				return fmt.Errorf("no line for %s", p)
			}
			return nil
		})
	}

	get("/?before=telemetry")
	write(telemetryYAML("providers: [{name: envoy}]"))
	waitLogged("on")
	if logged("/?before=telemetry") {
		t.Fatal("a request before any Telemetry was logged")
	}

	write(telemetryYAML("disabled: true"))
	eventually(t, 15*time.Second, "Telemetry disabled the access log", func() error {
		if !strings.Contains(e.gw.logs.String(), `msg="access log set by Telemetry" on=false`) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	get("/?off=1")
	// Turn it on again: lines are written in order, so once the next request's line is
	// there, the request made while off would be too had it been logged.
	write(telemetryYAML("{}"))
	waitLogged("again")
	if logged("/?off=1") {
		t.Fatal("a request made while Telemetry disabled the access log was logged")
	}
}
