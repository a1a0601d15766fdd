package fieldspec

import networking "istio.io/api/networking/v1alpha3"

// Declarations of Gateway (internal/translate gateway.go, servers.go, tls.go). The
// translator checks these fields explicitly, with messages specific to each.

func init() {
	AddRoot("Gateway", (&networking.Gateway{}).ProtoReflect().Descriptor())
	Declare("istio.networking.v1alpha3.Gateway", Message{
		"servers":  {Implemented, ""},
		"selector": {Implemented, "a subset of --labels selects this gateway"},
	})
	Declare("istio.networking.v1alpha3.Server", Message{
		"port":             {Implemented, ""},
		"bind":             {Implemented, "an IP address: one listener per (bind, port) as Istio; unix:// sockets and non-IP values are rejected (design 0026)"},
		"hosts":            {Implemented, "\"ns/host\" restricts the VirtualServices' namespace"},
		"tls":              {Implemented, ""},
		"default_endpoint": {NoEffect, "applies to sidecars only"},
		"name":             {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.Port", Message{
		"number":      {Implemented, "mapped to a listen address by --port-map"},
		"protocol":    {Implemented, "HTTP, HTTP2, GRPC, HTTPS; TLS, TCP and others are rejected (not supported yet)"},
		"name":        {Implemented, ""},
		"target_port": {NoEffect, "applies to ServiceEntry ports only; Istio ignores it on a Gateway server"},
	})
	tlsNotYet := "not supported yet (serving without it would weaken the policy)"
	Declare("istio.networking.v1alpha3.ServerTLSSettings", Message{
		"https_redirect":          {Implemented, "plain-HTTP servers answer 301 to https"},
		"mode":                    {Implemented, "SIMPLE, MUTUAL, OPTIONAL_MUTUAL; PASSTHROUGH, AUTO_PASSTHROUGH and ISTIO_MUTUAL are rejected (not supported yet)"},
		"server_certificate":      {Implemented, ""},
		"private_key":             {Implemented, ""},
		"ca_certificates":         {Implemented, ""},
		"ca_crl":                  {Implemented, ""},
		"credential_name":         {Implemented, "Secret in the gateway's namespace (\"<name>-cacert\" for the CA)"},
		"credential_names":        {Rejected, tlsNotYet},
		"ca_cert_credential_name": {Rejected, tlsNotYet},
		"tls_certificates":        {Rejected, tlsNotYet},
		"subject_alt_names":       {Implemented, "client certificates must carry one of these SANs"},
		"verify_certificate_spki": {Rejected, tlsNotYet},
		"verify_certificate_hash": {Rejected, tlsNotYet},
		"min_protocol_version":    {Implemented, "TLS 1.2 is the floor"},
		"max_protocol_version":    {Implemented, ""},
		"cipher_suites":           {Implemented, "TLS 1.2 suites; insecure suites are rejected"},
		"insecure_skip_verify":    {Rejected, tlsNotYet},
		"ecdh_curves":             {Rejected, tlsNotYet},
		"alpn_protocols":          {Rejected, tlsNotYet},
	})
	Declare("istio.networking.v1alpha3.ServerTLSSettings.TLSCertificate", Message{
		"server_certificate": {Rejected, tlsNotYet},
		"private_key":        {Rejected, tlsNotYet},
		"ca_certificates":    {Rejected, tlsNotYet},
	})
}
