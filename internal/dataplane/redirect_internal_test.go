package dataplane

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestRedirectLocation(t *testing.T) {
	cases := []struct {
		name   string
		target string
		host   string
		tls    bool
		rd     snapshot.Redirect
		want   string
		code   int
	}{
		{name: "https redirect drops the http port", target: "/a?b=c", host: "www.foo.com:8080",
			rd: snapshot.Redirect{Scheme: "https", Code: 301}, want: "https://www.foo.com/a?b=c", code: 301},
		{name: "same scheme keeps the port", target: "/a", host: "www.foo.com:8443", tls: true,
			rd: snapshot.Redirect{URI: "/b"}, want: "https://www.foo.com:8443/b", code: 301},
		{name: "explicit port", target: "/a", host: "www.foo.com", rd: snapshot.Redirect{Scheme: "https", Port: 8443, Code: 302},
			want: "https://www.foo.com:8443/a", code: 302},
		{name: "authority", target: "/a", host: "www.foo.com", rd: snapshot.Redirect{Authority: "new.foo.com", Code: 307},
			want: "http://new.foo.com/a", code: 307},
		{name: "uri with own query", target: "/a?x=1", host: "www.foo.com", rd: snapshot.Redirect{URI: "/b?y=2"},
			want: "http://www.foo.com/b?y=2", code: 301},
		{name: "ipv6 host", target: "/a", host: "[::1]:80", rd: snapshot.Redirect{Scheme: "https"},
			want: "https://[::1]/a", code: 301},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			r.Host = tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			redirect(w, r, &tc.rd, nil)
			if got := w.Header().Get("Location"); got != tc.want || w.Code != tc.code {
				t.Fatalf("got %d %q, want %d %q", w.Code, got, tc.code, tc.want)
			}
		})
	}
}

func TestRedirectPrefixRewrite(t *testing.T) {
	m := &snapshot.Match{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/old"}}
	for _, tc := range []struct{ target, want string }{
		{"/old/page?x=1", "http://h.example/new/page?x=1"},
		{"/old", "http://h.example/new"},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Host = "h.example"
		w := httptest.NewRecorder()
		redirect(w, r, &snapshot.Redirect{PrefixRewrite: "/new", Code: 308}, m)
		if got := w.Header().Get("Location"); got != tc.want || w.Code != 308 {
			t.Errorf("%s: got %d %q, want 308 %q", tc.target, w.Code, got, tc.want)
		}
	}
}

func TestFailAnswer(t *testing.T) {
	w := httptest.NewRecorder()
	fail(w, &snapshot.Fail{Status: 500, Body: "portcullis: rule ns/vs/r is not served: spec.http[0].fault: x\n", Flag: snapshot.FailFlag})
	if w.Code != 500 || w.Body.String() != "portcullis: rule ns/vs/r is not served: spec.http[0].fault: x\n" {
		t.Errorf("fail: %d %q", w.Code, w.Body.String())
	}
}

func TestRedirectPrefixRewriteEscapes(t *testing.T) {
	m := &snapshot.Match{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/ä"}}
	r := httptest.NewRequest("GET", "/%C3%A4/a%20b", nil)
	r.Host = "h.example"
	w := httptest.NewRecorder()
	redirect(w, r, &snapshot.Redirect{PrefixRewrite: "/x", Code: 301}, m)
	if got := w.Header().Get("Location"); got != "http://h.example/x/a%20b" {
		t.Errorf("Location %q", got)
	}
}
