package translate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// serverHost is one Gateway server host: a name restricted to VirtualServices of namespace ns
// ("*" = any namespace).
type serverHost struct {
	ns   string
	host string
}

// parseServerHost parses "host", "ns/host", "./host" or "*/host" (lower-cased).
func parseServerHost(raw, gwNamespace string) (serverHost, error) {
	h := strings.ToLower(raw)
	ns := "*"
	if strings.Count(h, "/") > 1 {
		return serverHost{}, fmt.Errorf("host %q has more than one '/' (want \"namespace/host\")", raw)
	}
	if i := strings.IndexByte(h, '/'); i >= 0 {
		ns, h = h[:i], h[i+1:]
		switch {
		case ns == ".":
			ns = gwNamespace
		case ns == "*":
		case ns == "":
			return serverHost{}, fmt.Errorf("host %q has an empty namespace before '/'", raw)
		default:
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				return serverHost{}, fmt.Errorf("%q is not a valid namespace name in host %q", ns, raw)
			}
		}
	}
	if err := validateHost(h); err != nil {
		return serverHost{}, err
	}
	return serverHost{ns: ns, host: h}, nil
}

// validateHost accepts "*", "*.suffix" and DNS names (already lower-cased).
func validateHost(h string) error {
	switch {
	case h == "":
		return fmt.Errorf("empty host")
	case h == "*":
		return nil
	}
	rest := strings.TrimPrefix(h, "*.")
	if strings.Contains(rest, "*") {
		return fmt.Errorf("host %q: a wildcard is only allowed as the whole first label (\"*.example.com\") or alone (\"*\")", h)
	}
	if errs := validation.IsDNS1123Subdomain(rest); len(errs) > 0 {
		return fmt.Errorf("host %q is not a valid DNS name (lower-case letters, digits, '-' and '.')", h)
	}
	return nil
}

func isWildcard(h string) bool { return strings.HasPrefix(h, "*") }

// intersect returns the more specific of two hosts when one covers the other (Istio's
// wildcard semantics: "*.a.com" covers any name ending in ".a.com", at any depth; "*" covers
// everything), and ok=false when they are disjoint.
func intersect(a, b string) (string, bool) {
	switch {
	case a == b:
		return a, true
	case a == "*":
		return b, true
	case b == "*":
		return a, true
	}
	aw, bw := isWildcard(a), isWildcard(b)
	switch {
	case aw && bw:
		if strings.HasSuffix(b[1:], a[1:]) {
			return b, true
		}
		if strings.HasSuffix(a[1:], b[1:]) {
			return a, true
		}
	case aw:
		if strings.HasSuffix(b, a[1:]) {
			return b, true
		}
	case bw:
		if strings.HasSuffix(a, b[1:]) {
			return a, true
		}
	}
	return "", false
}

// admits reports whether a VirtualService in namespace ns may bind to this server host.
func (h serverHost) admits(ns string) bool { return h.ns == "*" || h.ns == ns }

func (h serverHost) String() string {
	if h.ns == "*" {
		return h.host
	}
	return h.ns + "/" + h.host
}
