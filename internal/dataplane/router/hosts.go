package router

import "strings"

// maxStackName bounds names lower-cased on the stack; a DNS name is at most 253 bytes, so
// longer inputs (only possible from a hostile Host header) take a slower, allocating path.
const maxStackName = 256

// Hosts maps names to items by Istio/Envoy host-pattern rules: exact match first, then the
// longest matching "*.suffix" wildcard ("*.foo.com" matches "a.foo.com" and "a.b.foo.com",
// not "foo.com"), then "*". Case-insensitive (ASCII); a trailing dot and a ":port" suffix on
// the looked-up name are ignored. Used for SNI → Server selection and for Host → owning
// Server (the 421 check) and Host → VirtualHost.
//
// Other wildcard forms ("*foo.com", "foo.*", "a.*.com") are not Istio hosts; they are
// kept as literal exact names and so never match a real host name.
//
// A Hosts is immutable after NewHosts and safe for concurrent use.
type Hosts struct {
	exact map[string]int
	// wild maps the suffix of a "*.suffix" pattern, leading dot included (".foo.com"), to
	// its item. Lookup tries the name's suffixes from the longest down, so the first hit is
	// the longest wildcard.
	wild map[string]int
	star int // item of "*", or -1
}

// NewHosts builds a Hosts: patterns[i] are the patterns of item i. The first item to
// claim a pattern keeps it (later duplicates are ignored, as Istio keeps the oldest
// server). Patterns are lower-cased and a trailing dot is dropped; empty patterns are
// ignored.
func NewHosts(patterns [][]string) *Hosts {
	h := &Hosts{exact: map[string]int{}, wild: map[string]int{}, star: -1}
	for item, ps := range patterns {
		for _, p := range ps {
			p = strings.TrimSuffix(strings.ToLower(p), ".")
			switch {
			case p == "":
			case p == "*":
				if h.star < 0 {
					h.star = item
				}
			case strings.HasPrefix(p, "*.") && len(p) > 2:
				claim(h.wild, p[1:], item)
			default:
				claim(h.exact, p, item)
			}
		}
	}
	return h
}

func claim(m map[string]int, key string, item int) {
	if _, taken := m[key]; !taken {
		m[key] = item
	}
}

// Lookup returns the index of the item whose pattern matches name best, or -1 when nothing
// matches. An empty name matches only "*".
func (h *Hosts) Lookup(name string) int {
	if h == nil {
		return -1
	}
	name = HostName(name)
	if !hasUpper(name) {
		return lookup(h, name)
	}
	if len(name) > maxStackName {
		return lookup(h, strings.ToLower(name))
	}
	var buf [maxStackName]byte
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return lookup(h, b)
}

// lookup is generic so a lower-cased stack buffer can index the maps directly: m[string(b)]
// does not allocate.
func lookup[T string | []byte](h *Hosts, name T) int {
	if i, ok := h.exact[string(name)]; ok {
		return i
	}
	if len(h.wild) > 0 {
		// A wildcard needs a non-empty label before its suffix, so start after byte 0.
		for i := 1; i < len(name); i++ {
			if name[i] != '.' {
				continue
			}
			if item, ok := h.wild[string(name[i:])]; ok {
				return item
			}
		}
	}
	return h.star
}

// HostName strips a ":port" suffix and one trailing dot from a Host header or SNI value,
// without allocating. Bracketed IPv6 literals keep their brackets ("[::1]:8443" → "[::1]");
// an unbracketed name with several colons is returned unchanged (it is not host:port).
// Case is left alone.
func HostName(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i+1:], "]") {
		if host[0] == '[' || strings.IndexByte(host[:i], ':') < 0 {
			if allDigits(host[i+1:]) {
				host = host[:i]
			}
		}
	}
	return strings.TrimSuffix(host, ".")
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
