package security

import (
	"net/http"
	"testing"
)

// TestPathNormalization: routes match the normalized path (dot segments removed after
// percent-decoding, slashes merged), so no spelling of a blocked path reaches a backend
// through another route; and what a backend receives decodes to the path that was matched.
//
// frontend's routes: prefix /internal/ and exact /internal → 403 (directResponse); exact /
// → x-route root; prefix /api/ → x-route api; nothing else.
func TestPathNormalization(t *testing.T) {
	e := newEnv(t, nil)
	blocked := []string{
		"/internal/x",
		"/internal",
		"/api/../internal/x",
		"/api/%2e%2e/internal/x",
		"/api/%2E%2E/internal/x",
		"/api/.%2e/internal/x",
		"//internal/x",
		"///internal/x",
		"/./internal/x",
		"/%2e/internal/x",
		"/api/..%2Finternal/x",
		"/api%2F..%2Finternal/x",
		"/api/x/../../internal/x",
		"/api/../../../internal/x",
		"/internal%2Fx",
		"/internal%2f",
		"/api/./../internal",
		"/api/..;/internal/x/..",
	}
	for _, p := range blocked {
		t.Run("blocked "+p, func(t *testing.T) {
			rc := e.open(t, fe, fe)
			before := e.echo.count()
			resp, body := rc.do(get(p, fe))
			if p == "/api/..;/internal/x/.." {
				// ";" is not a separator (no path parameters): "/api/..;/internal/" is under
				// /api/, and the backend gets exactly that.
				s := mustEcho(t, resp, body, "frontend")
				if s.Path != "/api/..;/internal/" || s.Header.Get("X-Route") != "api" {
					t.Fatalf("backend got %q via %q", s.Path, s.Header.Get("X-Route"))
				}
				return
			}
			mustStatus(t, resp, body, http.StatusForbidden)
			if n := len(e.echo.since(before)); n > 0 {
				t.Fatalf("%d backend requests", n)
			}
		})
	}
	t.Run("blocked over HTTP/2", func(t *testing.T) {
		h := e.openH2(t, fe, fe)
		for _, p := range []string{"/api/../internal/x", "/api/%2e%2e/internal/x", "//internal/x", "/api%2F..%2Finternal/x"} {
			r := h.get(h2get(fe, p)...)
			mustStatus(t, r.asHTTP(), r.body, http.StatusForbidden)
		}
	})
	t.Run("blocked in absolute form", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do("GET https://" + fe + "/api/%2e%2e/internal/x HTTP/1.1\r\nHost: " + fe + "\r\n\r\n")
		mustStatus(t, resp, body, http.StatusForbidden)
	})

	// What the backend receives for paths that are served.
	served := []struct {
		request, route, path, requestURI string
	}{
		{"/", "root", "/", "/"},
		{"/%2e/", "root", "/", "/"},   // "/./" is "/": the exact "/" route matches
		{"//", "root", "/", "/"},      // slashes merged
		{"/api/..", "root", "/", "/"}, // dot segments resolved before matching
		{"/api/./x", "api", "/api/x", "/api/x"},
		{"/api//x", "api", "/api/x", "/api/x"},
		{"/api/x/../y", "api", "/api/y", "/api/y"},
		// A path already normal after decoding is forwarded as the client encoded it: it
		// decodes to what was matched.
		{"/api/a%2Fb", "api", "/api/a/b", "/api/a%2Fb"},
		{"/api/%7Euser", "api", "/api/~user", "/api/%7Euser"},
		// Decoded once, matched once: a double-encoded "../" is a literal segment to the
		// gateway, and must be to the backend (it must not decode twice).
		{"/api/%252e%252e/internal/x", "api", "/api/%2e%2e/internal/x", "/api/%252e%252e/internal/x"},
		// "\" is not a separator (as RFC 3986); it is forwarded percent-encoded.
		{"/api/..\\internal/x", "api", "/api/..\\internal/x", "/api/..%5Cinternal/x"},
		{"/api/..%5Cinternal/x", "api", "/api/..\\internal/x", "/api/..%5Cinternal/x"},
		{"/api/x?next=/../internal", "api", "/api/x", "/api/x?next=/../internal"},
	}
	for _, c := range served {
		t.Run("served "+c.request, func(t *testing.T) {
			rc := e.open(t, fe, fe)
			resp, body := rc.do(get(c.request, fe))
			s := mustEcho(t, resp, body, "frontend")
			if got := s.Header["X-Route"]; len(got) != 1 || got[0] != c.route {
				t.Fatalf("route %q, want %q", got, c.route)
			}
			if s.Path != c.path || s.RequestURI != c.requestURI {
				t.Fatalf("backend got path %q (request-target %q), want %q (%q)", s.Path, s.RequestURI, c.path, c.requestURI)
			}
		})
	}
	t.Run("case is significant (as Istio without ignoreUriCase)", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/INTERNAL/x", fe))
		mustStatus(t, resp, body, http.StatusNotFound)
	})
	t.Run("request-target without a leading slash", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("internal/x", fe))
		mustStatus(t, resp, body, http.StatusBadRequest)
	})
}
