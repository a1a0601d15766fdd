package security

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestForwardedHeaders: the forwarding headers a backend sees are the gateway's, never the
// client's. X-Forwarded-For is replaced by the client's address (not appended to: there
// is no trusted hop in front of the gateway); X-Forwarded-Proto and X-Forwarded-Host are
// overwritten; Forwarded is removed; underscore spellings of them are dropped.
func TestForwardedHeaders(t *testing.T) {
	e := newEnv(t, nil)
	spoofed := []string{
		"X-Forwarded-For: 10.0.0.1",
		"x-forwarded-for: 10.0.0.2, 10.0.0.3",
		"X-Forwarded-Proto: http",
		"X-Forwarded-Host: admin.internal",
		"Forwarded: for=10.0.0.1;host=admin.internal;proto=http",
		"X_Forwarded_For: 10.0.0.4",
		"X_Forwarded_Host: admin.internal",
		"x_forwarded_proto: http",
	}
	want := map[string][]string{
		"X-Forwarded-For":   {"127.0.0.1"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {fe},
	}
	check := func(t *testing.T, s seen) {
		t.Helper()
		got := map[string][]string{}
		for k, v := range s.Header {
			switch k {
			case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
				"X_forwarded_for", "X_forwarded_host", "X_forwarded_proto":
				got[k] = v
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("forwarding headers at the backend (-want +got):\n%s", diff)
		}
	}
	t.Run("HTTP/1.1", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/api/x", fe, spoofed...))
		check(t, mustEcho(t, resp, body, "frontend"))
	})
	t.Run("HTTP/2", func(t *testing.T) {
		h := e.openH2(t, fe, fe)
		r := h.get(h2get(fe, "/api/x",
			"x-forwarded-for", "10.0.0.1", "x-forwarded-proto", "http", "x-forwarded-host", "admin.internal",
			"forwarded", "for=10.0.0.1", "x_forwarded_for", "10.0.0.4")...)
		check(t, mustEcho(t, r.asHTTP(), r.body, "frontend"))
	})
	t.Run("no client values", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/api/x", fe))
		check(t, mustEcho(t, resp, body, "frontend"))
	})
	t.Run("other client-IP headers pass through untouched (documented)", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/api/x", fe, "X-Real-IP: 10.0.0.9", "True-Client-IP: 10.0.0.9"))
		s := mustEcho(t, resp, body, "frontend")
		if s.Header["X-Real-Ip"] == nil || s.Header["True-Client-Ip"] == nil {
			t.Fatalf("expected pass-through, got %v", s.Header)
		}
	})
}
