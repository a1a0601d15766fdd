package router

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/portcullis/portcullis/internal/snapshot"
)

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

// regexRewrite is a compiled Envoy regex_rewrite: every match of re in the path is
// replaced by the substitution, whose \N references are capture groups.
type regexRewrite struct {
	re   *regexp.Regexp
	tmpl string // in regexp.Expand syntax
}

func compileRegexRewrite(pattern, substitution string) (*regexRewrite, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	return &regexRewrite{re: re, tmpl: ExpandTemplate(substitution)}, nil
}

// ExpandTemplate converts an Envoy/RE2 substitution ("\1" groups, "\\" a backslash) into
// regexp.Expand syntax ("${1}", "$$" for a literal "$").
func ExpandTemplate(sub string) string {
	var b strings.Builder
	for i := 0; i < len(sub); i++ {
		c := sub[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(sub) && sub[i+1] >= '0' && sub[i+1] <= '9':
			b.WriteString("${")
			b.WriteByte(sub[i+1])
			b.WriteString("}")
			i++
		case c == '\\' && i+1 < len(sub) && sub[i+1] == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// RewritePath is the path the matched route forwards: its regex rewrite (Envoy
// regex_rewrite) or its uri rewrite (see the function RewritePath); path unchanged when the
// route rewrites neither.
func (res Result) RewritePath(path string) string {
	if res.cr != nil && res.cr.rewrite != nil {
		rr := res.cr.rewrite
		return rr.re.ReplaceAllString(path, rr.tmpl)
	}
	if res.Route == nil || res.Route.Forward == nil || res.Route.Forward.Rewrite == nil {
		return path
	}
	return RewritePath(path, res.Match, res.Route.Forward.Rewrite.URI)
}
