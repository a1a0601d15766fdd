package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func certsDoc(notAfter time.Time) string {
	return fmt.Sprintf(`[
  {"key": "secret:istio-system/frontend-credential", "name": "istio-system/frontend-credential",
   "source": "secret istio-system/frontend-credential", "serving": true, "version": "v1", "serial": "1a2b",
   "notAfter": %q, "users": ["https-frontend"]},
  {"key": "secret:istio-system/inventory-credential", "name": "istio-system/inventory-credential",
   "source": "", "serving": false, "users": ["https-inventory", "https-inventory-2"],
   "lastError": "secret istio-system/inventory-credential:\n  not found"}
]
`, notAfter.UTC().Format(time.RFC3339))
}

func adminServer(t *testing.T, code int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/certs" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func runInspect(args ...string) (string, error) {
	var out bytes.Buffer
	cmd := newCertsCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"inspect"}, args...))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCertsInspect(t *testing.T) {
	notAfter := time.Now().Add(10*24*time.Hour + time.Hour)
	doc := certsDoc(notAfter)
	admin := adminServer(t, http.StatusOK, doc)

	t.Run("table", func(t *testing.T) {
		out, err := runInspect("--admin", admin)
		if err != nil {
			t.Fatal(err)
		}
		var rows [][]string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			rows = append(rows, strings.Fields(l))
		}
		want := [][]string{
			{"CREDENTIAL", "SOURCE", "SERVING", "SERIAL", "NOT", "AFTER", "DAYS", "LEFT", "USERS", "LAST", "ERROR"},
			{"istio-system/frontend-credential", "secret", "istio-system/frontend-credential", "yes", "1a2b",
				notAfter.UTC().Format(time.RFC3339), "10", "https-frontend", "-"},
			{"istio-system/inventory-credential", "-", "no", "-", "-", "-", "https-inventory,https-inventory-2",
				"secret", "istio-system/inventory-credential:", "not", "found"},
		}
		if d := cmp.Diff(want, rows); d != "" {
			t.Errorf("table (-want +got):\n%s\n%s", d, out)
		}
	})
	t.Run("json is the admin document", func(t *testing.T) {
		out, err := runInspect("--admin", "http://"+admin+"/", "-o", "json")
		if err != nil || out != doc {
			t.Errorf("got %v\n%s", err, out)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		out, err := runInspect("--admin", adminServer(t, http.StatusOK, "[]"))
		if err != nil || !strings.Contains(out, "no credentials referenced") {
			t.Errorf("got %v\n%s", err, out)
		}
	})
}

func TestCertsInspectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"bad output":      {[]string{"-o", "yaml"}, `-o: "yaml" is not table or json`},
		"admin error":     {[]string{"--admin", adminServer(t, http.StatusServiceUnavailable, "down\n")}, "503 Service Unavailable: down"},
		"not json":        {[]string{"--admin", adminServer(t, http.StatusOK, "<html>")}, "/certs: invalid character"},
		"nothing listens": {[]string{"--admin", closed, "--timeout", "2s"}, "connection refused"},
		"extra argument":  {[]string{"extra"}, "unknown command"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := runInspect(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
