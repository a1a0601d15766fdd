package h2

import (
	"io"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
)

// echoHost answers with the request's Host and its Host header fields, so a test sees
// what a router (VirtualService match on "host") would see.
func echoHost(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("x-host", r.Host)
	w.Header()["X-Host-Fields"] = r.Header.Values("Host")
	_, _ = io.WriteString(w, "ok")
}

// TestAuthorityAndHostValidation: the "host" field and :authority/:path are validated
// as x/net's server does (internal/httpcommon.NewServerRequest, RFC 9113 8.3.1): a
// "host" differing from :authority, several "host" fields, an :authority that is not a
// valid host, or a :path that is not origin-form (or "*") reset the stream with
// PROTOCOL_ERROR; the connection goes on serving.
func TestAuthorityAndHostValidation(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHost))
	refused := []struct {
		name   string
		fields []string
	}{
		{"host differs from :authority", get("/", "host", "evil.test")},
		{"two host fields", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", "h2.test", "host", "h2.test"}},
		{":authority with a space", []string{":method", "GET", ":scheme", "https", ":authority", "a b", ":path", "/"}},
		{":authority with a slash", []string{":method", "GET", ":scheme", "https", ":authority", "a/b", ":path", "/"}},
		{"host (no :authority) with a slash", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", "a/b"}},
		{":path absolute-form", []string{":method", "GET", ":scheme", "https", ":authority", "h2.test", ":path", "http://evil.test/x"}},
		{":path without a slash", []string{":method", "GET", ":scheme", "https", ":authority", "h2.test", ":path", "x"}},
	}
	r := e.raw(t)
	id := uint32(1)
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			defer func() { r.t, id = nil, id+4 }() // a failed case leaves the next ids unused
			r.headers(id, true, tc.fields...)
			if f := r.rst(id); f.ErrCode != http2.ErrCodeProtocol {
				t.Errorf("reset with %v, want PROTOCOL_ERROR", f.ErrCode)
			}
			r.headers(id+2, true, get("/")...)
			if s := r.status(id + 2); s != "200" {
				t.Errorf("next request: %s", s)
			}
		})
	}

	served := []struct {
		name     string
		fields   []string
		wantHost string
	}{
		{"host equal to :authority is removed", get("/", "host", "h2.test"), "h2.test"},
		{"host stands for a missing :authority", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", "h2.test:8443"}, "h2.test:8443"},
		{"OPTIONS *", []string{":method", "OPTIONS", ":scheme", "https", ":authority", "h2.test", ":path", "*"}, "h2.test"},
	}
	for _, tc := range served {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			defer func() { r.t, id = nil, id+2 }()
			r.headers(id, true, tc.fields...)
			h := r.next(func(f http2.Frame) bool {
				if x, ok := f.(*http2.RSTStreamFrame); ok && x.StreamID == id {
					t.Fatalf("stream reset: %v", x.ErrCode)
				}
				x, ok := f.(*http2.MetaHeadersFrame)
				return ok && x.StreamID == id
			}).(*http2.MetaHeadersFrame)
			var host string
			var fields []string
			for _, f := range h.RegularFields() {
				switch f.Name {
				case "x-host":
					host = f.Value
				case "x-host-fields":
					fields = append(fields, f.Value)
				}
			}
			if host != tc.wantHost || len(fields) != 0 {
				t.Errorf("Host %q, Host fields %q; want %q and none", host, fields, tc.wantHost)
			}
		})
	}
}

// TestStreamIDReuse: HEADERS opening a stream whose id is not above every id the
// client used (a finished stream's, or a lower one) is a connection error
// PROTOCOL_ERROR (RFC 9113 5.1.1; h2spec 5.1/12 and 5.1.1/2), as x/net answers it.
func TestStreamIDReuse(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(okHandler))
	tests := []struct {
		name string
		send func(r *raw)
	}{
		{"reused id of a finished stream", func(r *raw) {
			r.headers(1, true, get("/")...)
			r.status(1)
			r.next(func(f http2.Frame) bool {
				return f.Header().StreamID == 1 && f.Header().Flags.Has(http2.FlagDataEndStream)
			})
			r.headers(1, true, get("/")...)
		}},
		{"lower id", func(r *raw) {
			r.headers(5, true, get("/")...)
			r.status(5)
			r.headers(3, true, get("/")...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.raw(t)
			tc.send(r)
			if g := r.goAway(); g.ErrCode != http2.ErrCodeProtocol {
				t.Errorf("GOAWAY %v, want PROTOCOL_ERROR", g.ErrCode)
			}
		})
	}
}
