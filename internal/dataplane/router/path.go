package router

import (
	"path"
	"strings"
)

// NormalizePath returns p with dot segments removed (RFC 3986 §5.2.4, as Envoy's
// normalize_path) and runs of slashes merged (Envoy's merge_slashes). A trailing slash is
// kept, and a trailing "/." or "/.." leaves one ("/a/b/.." → "/a/"), as the RFC does. It
// returns p itself, without allocating, when p is already normal, so callers can test
// NormalizePath(p) != p to reject instead of rewrite.
//
// p is a decoded path (r.URL.Path): percent-encoded dots and slashes were already decoded
// by net/http, so "%2e%2e" and "%2F" are normalized like ".." and "/". A path that does not
// start with "/" is treated as if it did, except "*" (the OPTIONS * form), kept as is; ""
// becomes "/".
func NormalizePath(p string) string {
	switch {
	case p == "*":
		return p
	case p == "":
		return "/"
	case p[0] != '/':
		p = "/" + p
	}
	c := path.Clean(p) // returns a substring of p when nothing changes
	if c == "/" || !trailingSlash(p) {
		return c
	}
	if len(c)+1 == len(p) && p[:len(c)] == c {
		return p // p was c + "/": already normal
	}
	return c + "/"
}

// trailingSlash reports whether the RFC's dot-segment removal leaves p ending in "/".
func trailingSlash(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}
