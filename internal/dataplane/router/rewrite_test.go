package router

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestRewritePath(t *testing.T) {
	cases := []struct {
		name, path string
		m          *snapshot.Match
		uri, want  string
	}{
		{"empty rewrite", "/a", &snapshot.Match{URI: prefix("/a")}, "", "/a"},
		{"prefix replaced", "/api/v1/x", &snapshot.Match{URI: prefix("/api/")}, "/", "/v1/x"},
		{"prefix to deeper", "/old/x", &snapshot.Match{URI: prefix("/old")}, "/new/base", "/new/base/x"},
		{"prefix ignoreUriCase", "/API/x", &snapshot.Match{URI: prefix("/api"), IgnoreURICase: true}, "/v2", "/v2/x"},
		{"exact replaces whole path", "/login", &snapshot.Match{URI: exact("/login")}, "/auth/login", "/auth/login"},
		{"regex replaces whole path", "/v12", &snapshot.Match{URI: regex("/v[0-9]+")}, "/current", "/current"},
		{"no uri condition replaces leading slash", "/foo", &snapshot.Match{Method: exact("GET")}, "/bar", "/barfoo"},
		{"no match at all", "/foo", nil, "/bar/", "/bar/foo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, RewritePath(tc.path, tc.m, tc.uri)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
