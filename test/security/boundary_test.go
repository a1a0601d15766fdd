package security

import (
	"net/http"
	"testing"
)

// TestHostBoundary: a request on a connection whose handshake selected one server, for a
// host of another server with a different TLS policy, is answered 421 in every spelling
// of that host, and never reaches any backend.
func TestHostBoundary(t *testing.T) {
	e := newEnv(t, nil)

	misdirected := func(t *testing.T, rc *rawConn, raw string) {
		t.Helper()
		before := e.echo.count()
		resp, body := rc.do(raw)
		mustStatus(t, resp, body, http.StatusMisdirectedRequest)
		if got := e.echo.since(before); len(got) > 0 {
			t.Fatalf("a backend received the misdirected request: %+v", got)
		}
	}

	t.Run("control: own host is served", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do(get("/", fe))
		mustEcho(t, resp, body, "frontend")
	})
	hosts := map[string]string{
		"other host":                  inv,
		"upper case":                  "INVENTORY.FOOCORP.COM",
		"mixed case":                  "Inventory.FooCorp.Com",
		"trailing dot":                inv + ".",
		"with port":                   inv + ":443",
		"with a different port":       inv + ":8443",
		"empty port":                  inv + ":",
		"trailing dot, case and port": "Inventory.Foocorp.Com.:443",
		"surrounding whitespace":      " \t" + inv + " \t",
	}
	for name, host := range hosts {
		t.Run("MUTUAL frontend connection, Host "+name, func(t *testing.T) {
			misdirected(t, e.open(t, fe, fe), get("/", host))
		})
	}
	t.Run("absolute-form request-target of another host, Host of own", func(t *testing.T) {
		misdirected(t, e.open(t, fe, fe), "GET https://"+inv+"/ HTTP/1.1\r\nHost: "+fe+"\r\n\r\n")
	})
	t.Run("absolute-form of own host, Host of another: served as own, backend sees own Host", func(t *testing.T) {
		// RFC 9112 §3.2.2: the request-target's authority wins over Host.
		rc := e.open(t, fe, fe)
		resp, body := rc.do("GET https://" + fe + "/ HTTP/1.1\r\nHost: " + inv + "\r\n\r\n")
		if s := mustEcho(t, resp, body, "frontend"); s.Host != fe {
			t.Fatalf("backend saw Host %q, want %q", s.Host, fe)
		}
	})
	t.Run("CONNECT to another host", func(t *testing.T) {
		misdirected(t, e.open(t, fe, fe), "CONNECT "+inv+":443 HTTP/1.1\r\nHost: "+inv+":443\r\n\r\n")
	})
	t.Run("CONNECT authority of another host, Host of own", func(t *testing.T) {
		misdirected(t, e.open(t, fe, fe), "CONNECT "+inv+":443 HTTP/1.1\r\nHost: "+fe+"\r\n\r\n")
	})
	t.Run("OPTIONS * for another host: answered by net/http itself, never routed", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		before := e.echo.count()
		resp, body := rc.do("OPTIONS * HTTP/1.1\r\nHost: " + inv + "\r\n\r\n")
		mustStatus(t, resp, body, http.StatusOK)
		if body != "" || len(e.echo.since(before)) > 0 {
			t.Fatalf("body %q, %d backend requests", body, len(e.echo.since(before)))
		}
	})
	t.Run("duplicate Host headers: 400", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do("GET / HTTP/1.1\r\nHost: " + fe + "\r\nHost: " + inv + "\r\n\r\n")
		mustStatus(t, resp, body, http.StatusBadRequest)
	})
	t.Run("pipelined: each request is bound on its own", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		rc.send(get("/", fe) + get("/", inv) + get("/", fe))
		for i, want := range []int{200, 421, 200} {
			resp, body, err := rc.response()
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			if want == 200 {
				mustEcho(t, resp, body, "frontend")
			} else {
				mustStatus(t, resp, body, want)
			}
		}
	})

	// Hosts that belong to no server: never routed anywhere but the connection's own table,
	// where they match no virtual host (404) or are rejected by net/http (400).
	garbage := map[string]struct {
		host string
		code int
	}{
		"userinfo":                {fe + "@" + inv, http.StatusBadRequest},
		"userinfo, other first":   {inv + "@" + fe, http.StatusBadRequest},
		"path in Host":            {inv + "/x", http.StatusBadRequest},
		"two ports":               {inv + ":443:443", http.StatusNotFound},
		"non-numeric port":        {inv + ":https", http.StatusNotFound},
		"IP literal":              {"127.0.0.1", http.StatusNotFound},
		"suffix of another host":  {"x." + inv, http.StatusNotFound},
		"another host as prefix":  {inv + ".evil.com", http.StatusNotFound},
		"percent-encoded":         {"inventory%2efoocorp.com", http.StatusNotFound},
		"two trailing dots":       {inv + "..", http.StatusNotFound},
		"bracketed":               {"[" + inv + "]", http.StatusNotFound},
		"backslash":               {inv + "\\", http.StatusBadRequest},
		"comma-separated list":    {fe + "," + inv, http.StatusNotFound},
		"space inside":            {fe + " " + inv, http.StatusBadRequest},
		"empty (HTTP/1.1)":        {"", http.StatusNotFound},
		"only a dot":              {".", http.StatusNotFound},
		"other host, NUL before ": {inv + "\x00", http.StatusBadRequest},
	}
	for name, g := range garbage {
		t.Run("Host "+name, func(t *testing.T) {
			rc := e.open(t, fe, fe)
			before := e.echo.count()
			resp, body := rc.do(get("/", g.host))
			mustStatus(t, resp, body, g.code)
			if got := e.echo.since(before); len(got) > 0 {
				t.Fatalf("a backend received it: %+v", got)
			}
		})
	}

	t.Run("SIMPLE connection, Host of a MUTUAL host", func(t *testing.T) {
		for _, h := range []string{fe, inv, opt} {
			misdirected(t, e.open(t, pub, ""), get("/", h))
		}
	})
	t.Run("MUTUAL connection, Host of the SIMPLE host (different policy)", func(t *testing.T) {
		misdirected(t, e.open(t, fe, fe), get("/", pub))
	})
	t.Run("OPTIONAL_MUTUAL connection without certificate, Host of a MUTUAL host", func(t *testing.T) {
		rc := e.open(t, opt, "")
		resp, body := rc.do(get("/", opt))
		mustEcho(t, resp, body, "partner")
		misdirected(t, rc, get("/", fe))
		misdirected(t, rc, get("/", pub))
	})
	t.Run("OPTIONAL_MUTUAL connection with its certificate, Host of a MUTUAL host", func(t *testing.T) {
		misdirected(t, e.open(t, opt, opt), get("/", inv))
	})
	t.Run("HTTP/1.0 without Host stays on the connection's server", func(t *testing.T) {
		rc := e.open(t, inv, inv)
		before := e.echo.count()
		resp, body := rc.do("GET / HTTP/1.0\r\n\r\n")
		for _, s := range e.echo.since(before) {
			if s.Backend != "inventory" {
				t.Fatalf("routed to %q", s.Backend)
			}
		}
		t.Logf("HTTP/1.0 without Host on inventory: %d", resp.StatusCode)
		_ = body
	})
}

// TestHostBoundaryHTTP2 is the boundary over HTTP/2, where clients coalesce connections
// and :authority and Host can disagree.
func TestHostBoundaryHTTP2(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("coalesced connection: own host, then another host's :authority", func(t *testing.T) {
		h := e.openH2(t, fe, fe)
		r := h.get(h2get(fe, "/")...)
		mustEcho(t, r.asHTTP(), r.body, "frontend")
		before := e.echo.count()
		for _, a := range []string{inv, "INVENTORY.foocorp.com", inv + ".", inv + ":443", pub, opt} {
			r = h.get(h2get(a, "/")...)
			mustStatus(t, r.asHTTP(), r.body, http.StatusMisdirectedRequest)
		}
		if got := e.echo.since(before); len(got) > 0 {
			t.Fatalf("a backend received it: %+v", got)
		}
		r = h.get(h2get(fe, "/")...)
		mustEcho(t, r.asHTTP(), r.body, "frontend")
	})
	t.Run("no :authority, host header of another host", func(t *testing.T) {
		h := e.openH2(t, fe, fe)
		r := h.get(":method", "GET", ":scheme", "https", ":path", "/", "host", inv)
		mustStatus(t, r.asHTTP(), r.body, http.StatusMisdirectedRequest)
	})
	t.Run(":authority own host, host header of another host", func(t *testing.T) {
		h := e.openH2(t, fe, fe)
		before := e.echo.count()
		r := h.get(h2get(fe, "/", "host", inv)...)
		checkAuthorityWins(t, e, before, r)
	})
	t.Run(":authority of another host, host header own host", func(t *testing.T) {
		h := e.openH2(t, fe, fe)
		r := h.get(h2get(inv, "/", "host", fe)...)
		if r.reset == 0 {
			mustStatus(t, r.asHTTP(), r.body, http.StatusMisdirectedRequest)
		}
	})
	t.Run(":authority with control characters or garbage is never forwarded", func(t *testing.T) {
		for _, a := range []string{fe + "\r\nX-Injected: 1", inv + "\r\nHost: " + fe, fe + "\x00", fe + "@" + inv, fe + " x", fe + "/x"} {
			h := e.openH2(t, fe, fe)
			before := e.echo.count()
			r, err := h.try(h2get(a, "/api/x")...)
			if err == nil && r.reset == 0 && r.status != http.StatusNotFound {
				t.Errorf(":authority %q: status %d", a, r.status)
			}
			if n := len(e.echo.since(before)); n > 0 {
				t.Errorf(":authority %q: %d backend requests", a, n)
			}
		}
	})
	t.Run("SIMPLE connection, :authority of a MUTUAL host", func(t *testing.T) {
		h := e.openH2(t, pub, "")
		r := h.get(h2get(fe, "/")...)
		mustStatus(t, r.asHTTP(), r.body, http.StatusMisdirectedRequest)
	})
}

// checkAuthorityWins: a request whose :authority and Host disagree is either refused or
// served by the :authority's server, and the backend then sees that authority only.
func checkAuthorityWins(t *testing.T, e *env, before int, r h2Response) {
	t.Helper()
	t.Logf("outcome: status %d, reset %v", r.status, r.reset)
	if r.reset != 0 || r.status == http.StatusBadRequest {
		return
	}
	s := mustEcho(t, r.asHTTP(), r.body, "frontend")
	if s.Host != fe || len(s.Header["Host"]) > 0 {
		t.Fatalf("backend saw Host %q and header Host %q, want only %q", s.Host, s.Header["Host"], fe)
	}
	for _, x := range e.echo.since(before) {
		if x.Backend != "frontend" {
			t.Fatalf("reached %s", x.Backend)
		}
	}
}
