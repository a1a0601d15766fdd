package engine

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// supportedKey reports whether the engine evaluates a when[] key (Istio's condition keys
// for HTTP), claims and headers aside.
func supportedKey(key string) bool {
	switch key {
	case "source.ip", "remote.ip", "source.namespace", "source.principal",
		"request.auth.principal", "request.auth.audiences", "request.auth.presenter",
		"destination.ip", "destination.port", "connection.sni":
		return true
	}
	return false
}

var (
	claimsKeyRE = regexp.MustCompile(`^request\.auth\.claims(\[[^\[\]]+\])+$`)
	headerKeyRE = regexp.MustCompile(`^request\.headers\[[^\[\]]+\]$`)
)

// CheckKey says why a when[] key cannot be evaluated ("" = it can).
func CheckKey(key string) string {
	switch {
	case supportedKey(key), claimsKeyRE.MatchString(key), headerKeyRE.MatchString(key):
		return ""
	case strings.HasPrefix(key, "experimental."):
		return fmt.Sprintf("key %q: experimental.* keys read Envoy filter metadata portcullis does not have; not supported", key)
	case key == "source.user" || strings.HasPrefix(key, "request.regex."):
		return fmt.Sprintf("key %q is not supported by Istio (removed)", key)
	}
	return fmt.Sprintf("unknown condition key %q", key)
}

// CheckValue says why v is not a valid value for key ("" = it is).
func CheckValue(key, v string) string {
	if v == "" {
		return "empty value"
	}
	switch key {
	case "source.ip", "remote.ip", "destination.ip":
		if _, err := parsePrefix(v); err != nil {
			return fmt.Sprintf("%q is not an IP address or CIDR range", v)
		}
	case "destination.port":
		if n, err := strconv.ParseUint(v, 10, 16); err != nil || n == 0 {
			return fmt.Sprintf("%q is not a port number (1-65535)", v)
		}
	case "request.path":
		if containsTemplate(v) {
			if _, err := templateRegexp(v); err != nil {
				return err.Error()
			}
		}
	}
	return ""
}

// CheckJWKS validates an inline key set.
func CheckJWKS(data []byte) error {
	_, err := parseJWKS(data)
	return err
}

// parsePrefix parses an IP address (a /32 or /128 range) or a CIDR range.
func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
