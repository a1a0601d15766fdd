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
