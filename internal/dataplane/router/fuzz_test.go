package router

import (
	"strings"
	"testing"
)

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "", "*", "/a/../b", "//a//b/./", "/..", "a/b/..", "/a/b/c/../../.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := NormalizePath(p)
		if p == "*" {
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("NormalizePath(%q) = %q: not absolute", p, got)
		}
		if again := NormalizePath(got); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", p, got, again)
		}
		if strings.Contains(got, "//") || strings.Contains(got, "/./") || strings.Contains(got, "/../") ||
			strings.HasSuffix(got, "/.") || strings.HasSuffix(got, "/..") {
			t.Fatalf("NormalizePath(%q) = %q: not normal", p, got)
		}
	})
}

func FuzzHostsLookup(f *testing.F) {
	for _, s := range []string{"", "a.foo.com", "A.FOO.COM.:443", "[::1]:80", ".", ":", "*.foo.com", "foo.com", strings.Repeat("A.", 200)} {
		f.Add(s)
	}
	h := NewHosts([][]string{{"foo.com"}, {"*.foo.com"}, {"*.b.foo.com", "Bar.com"}})
	f.Fuzz(func(t *testing.T, name string) {
		got := h.Lookup(name)
		if got < -1 || got > 2 {
			t.Fatalf("Lookup(%q) = %d: out of range", name, got)
		}
		if up := h.Lookup(strings.ToUpper(name)); up != got && strings.ToUpper(name) == asciiUpper(name) {
			t.Fatalf("Lookup not case-insensitive: %q -> %d, upper -> %d", name, got, up)
		}
	})
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func FuzzQueryValue(f *testing.F) {
	for _, s := range []string{"", "a=1", "a=1&a=2", "%zz=1&a", "a+b=c%20d", "&&=&"} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, raw, name string) {
		queryValue(raw, name) // must not panic
	})
}
