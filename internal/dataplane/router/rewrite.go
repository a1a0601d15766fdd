package router

import "github.com/portcullis/portcullis/internal/snapshot"

// RewritePath applies an Istio HTTPRewrite.uri to path, given the Match that selected the
// route (Result.Match; nil for a route without conditions). As in Istio/Envoy's
// prefix_rewrite, only the part of the path the rule matched is replaced:
//
//   - uri prefix match: the first len(prefix) bytes ("/api/v1/x" with prefix "/api/" and
//     uri "/" → "/v1/x"); with ignoreUriCase the replaced bytes are the request's own.
//   - uri exact or regex match: the whole path.
//   - no uri condition: Istio matches on prefix "/", so only the leading "/" is replaced
//     ("/foo" with uri "/bar" → "/barfoo", the well-known Istio behaviour).
//
// An empty uri returns path unchanged. The query string is not part of path and is kept
// by the caller.
func RewritePath(path string, m *snapshot.Match, uri string) string {
	if uri == "" {
		return path
	}
	matched := 0
	switch {
	case m == nil || m.URI == nil || m.URI.Kind == "":
		if len(path) > 0 && path[0] == '/' {
			matched = 1
		}
	case m.URI.Kind == snapshot.Prefix:
		matched = min(len(m.URI.Value), len(path))
	default:
		matched = len(path)
	}
	return uri + path[matched:]
}
