package snapshot

// UpstreamTLS is trafficPolicy.tls: TLS originated by the gateway towards the endpoints,
// as Envoy's UpstreamTlsContext that Istio's cluster builder writes for a gateway.
type UpstreamTLS struct {
	// Mode: "SIMPLE" or "MUTUAL" (DISABLE yields no UpstreamTLS; ISTIO_MUTUAL is rejected).
	Mode string `json:"mode"`
	// Credential is the key material read through the credential store (the SDS model:
	// rotation, last good kept, deletion stops it): the client certificate (MUTUAL) and/or
	// the CA bundle and CRL verifying the server. nil: no client certificate and the
	// system roots verify the server (or nothing does, with InsecureSkipVerify).
	Credential *CredentialRef `json:"credential,omitempty"`
	// SystemRoots: the server is verified against the system CA bundle (no caCertificates
	// and no credentialName: Istio's default "system").
	SystemRoots bool `json:"systemRoots,omitempty"`
	// SNI sent in the ClientHello. "" = auto SNI (Envoy's auto_sni, as Istio sets it when
	// sni is unset): the request's Host (after rewrites) for HTTP, none for TCP.
	SNI string `json:"sni,omitempty"`
	// SubjectAltNames: the server certificate must carry one of these SANs (Envoy's
	// match_subject_alt_names, exact). Empty with SNI "" = auto SAN validation: the
	// certificate must be valid for the request's Host.
	SubjectAltNames []string `json:"subjectAltNames,omitempty"`
	// InsecureSkipVerify: the server certificate is not verified at all (warned).
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// AutoSAN reports whether the server certificate is verified against the request's Host
// (Envoy's auto_san_validation, which Istio sets when neither sni nor subjectAltNames is).
func (t *UpstreamTLS) AutoSAN() bool {
	return t.SNI == "" && len(t.SubjectAltNames) == 0 && !t.InsecureSkipVerify
}

// clientPrefix keeps client credentials apart from server ones in CredentialRef.Key():
// "client:" (certificate and CA) or "client-ca:" (CA only).
func (c CredentialRef) clientPrefix() string {
	switch {
	case !c.Client:
		return ""
	case c.CAOnly:
		return "client-ca:"
	}
	return "client:"
}

// ClusterCredentialRefs lists the client credentials of clusters' upstream TLS.
func ClusterCredentialRefs(cs []Cluster) []CredentialRef {
	var out []CredentialRef
	for i := range cs {
		if t := cs[i].TLS; t != nil && t.Credential != nil {
			out = append(out, *t.Credential)
		}
	}
	return out
}
