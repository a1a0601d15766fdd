package router

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizePath(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"root", "/", "/"},
		{"clean", "/a/b", "/a/b"},
		{"clean trailing slash kept", "/a/b/", "/a/b/"},
		{"empty", "", "/"},
		{"options star", "*", "*"},
		{"relative gets slash", "a/b", "/a/b"},
		{"dot segment", "/a/./b", "/a/b"},
		{"dotdot segment", "/a/../b", "/b"},
		{"dotdot above root", "/../../etc/passwd", "/etc/passwd"},
		{"trailing dot", "/a/b/.", "/a/b/"},
		{"trailing dotdot", "/a/b/..", "/a/"},
		{"dotdot to root", "/a/..", "/"},
		{"merge slashes", "//a///b", "/a/b"},
		{"merge trailing slashes", "/a//", "/a/"},
		{"dots in names kept", "/a.b/..c/c..", "/a.b/..c/c.."},
		{"mixed", "/a//b/./c/../d/", "/a/b/d/"},
		{"only slashes", "///", "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NormalizePath(tc.in)); diff != "" {
				t.Errorf("NormalizePath(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestNormalizePathZeroAllocWhenClean(t *testing.T) {
	for _, p := range []string{"/", "/a/b", "/a/b/", "/api/v1/items/42"} {
		if n := testing.AllocsPerRun(100, func() { NormalizePath(p) }); n != 0 {
			t.Errorf("NormalizePath(%q) allocates %v times", p, n)
		}
	}
}
