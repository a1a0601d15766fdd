package translate

// ianaCipherName maps the OpenSSL/BoringSSL cipher names Istio documents (and a few legacy
// ones, so they are reported as insecure rather than unknown) to IANA names as crypto/tls
// spells them. "" means unknown. A switch, not a map, to keep the package free of globals.
func ianaCipherName(openssl string) string {
	switch openssl {
	case "ECDHE-ECDSA-AES128-GCM-SHA256":
		return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	case "ECDHE-RSA-AES128-GCM-SHA256":
		return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
	case "ECDHE-ECDSA-AES256-GCM-SHA384":
		return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	case "ECDHE-RSA-AES256-GCM-SHA384":
		return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
	case "ECDHE-ECDSA-CHACHA20-POLY1305":
		return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
	case "ECDHE-RSA-CHACHA20-POLY1305":
		return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
	case "ECDHE-ECDSA-AES128-SHA":
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
	case "ECDHE-RSA-AES128-SHA":
		return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
	case "ECDHE-ECDSA-AES256-SHA":
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
	case "ECDHE-RSA-AES256-SHA":
		return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
	case "AES128-GCM-SHA256":
		return "TLS_RSA_WITH_AES_128_GCM_SHA256"
	case "AES256-GCM-SHA384":
		return "TLS_RSA_WITH_AES_256_GCM_SHA384"
	case "AES128-SHA":
		return "TLS_RSA_WITH_AES_128_CBC_SHA"
	case "AES256-SHA":
		return "TLS_RSA_WITH_AES_256_CBC_SHA"
	case "ECDHE-ECDSA-AES128-SHA256":
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
	case "ECDHE-RSA-AES128-SHA256":
		return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
	case "AES128-SHA256":
		return "TLS_RSA_WITH_AES_128_CBC_SHA256"
	case "DES-CBC3-SHA":
		return "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
	case "ECDHE-RSA-DES-CBC3-SHA":
		return "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
	case "RC4-SHA":
		return "TLS_RSA_WITH_RC4_128_SHA"
	case "ECDHE-RSA-RC4-SHA":
		return "TLS_ECDHE_RSA_WITH_RC4_128_SHA"
	case "ECDHE-ECDSA-RC4-SHA":
		return "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"
	}
	return ""
}
