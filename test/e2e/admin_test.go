package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/testkit"
)

func httpGet(t *testing.T, url string) (int, string) { return testkit.Get(t, url) }

// TestAdmin checks the admin endpoints of a running walkthrough gateway: readiness, the
// config dump (snapshot + diagnostics, no key material), /certs and the Prometheus metrics.
func TestAdmin(t *testing.T) {
	e := setupWalkthrough(t)
	const fe = "frontend.foocorp.com"
	if _, errOut, code := e.curl(t, fe, fe, fe, "/"); code != 0 {
		t.Fatalf("curl: %s", errOut)
	}
	_, _, _ = e.curl(t, fe, "inventory.foocorp.com", fe, "/") // 421
	base := "http://" + e.gw.admin

	if code, body := httpGet(t, base+"/healthz/ready"); code != 200 {
		t.Fatalf("ready: %d %s", code, body)
	}

	code, dump := httpGet(t, base+"/config_dump")
	if code != 200 {
		t.Fatalf("config_dump: %d", code)
	}
	for _, secret := range []string{"PRIVATE KEY", "BEGIN CERTIFICATE"} {
		if strings.Contains(dump, secret) {
			t.Fatalf("config_dump leaks %q", secret)
		}
	}
	var doc struct {
		Snapshot struct {
			Version   string `json:"version"`
			Listeners []struct {
				Port    int `json:"port"`
				Servers []struct {
					Name string `json:"name"`
				} `json:"servers"`
			} `json:"listeners"`
		} `json:"snapshot"`
		Diagnostics []json.RawMessage `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(dump), &doc); err != nil {
		t.Fatalf("config_dump is not JSON: %v", err)
	}
	if doc.Snapshot.Version == "" || len(doc.Snapshot.Listeners) != 1 || doc.Snapshot.Listeners[0].Port != 443 ||
		len(doc.Snapshot.Listeners[0].Servers) != 2 {
		t.Fatalf("unexpected snapshot in config_dump:\n%s", dump)
	}
	if len(doc.Diagnostics) != 0 {
		t.Fatalf("walkthrough has diagnostics: %s", doc.Diagnostics)
	}

	code, certs := httpGet(t, base+"/certs")
	if code != 200 || !strings.Contains(certs, "frontend-credential") || !strings.Contains(certs, "inventory-credential") ||
		strings.Contains(certs, "PRIVATE KEY") {
		t.Fatalf("/certs: %d\n%s", code, certs)
	}

	code, metrics := httpGet(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`portcullis_requests_total{code="200",host="frontend.foocorp.com:443"} 1`,
		`portcullis_requests_total{code="421",host="none"} 1`,
		`portcullis_snapshot_info{version="` + doc.Snapshot.Version + `"} 1`,
		`portcullis_credential_expiry_seconds{credential="istio-system/frontend-credential"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grepLines(metrics, "portcullis_"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
