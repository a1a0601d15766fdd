package fieldspec

import (
	security "istio.io/api/security/v1beta1"
)

// Declarations of security.istio.io (v1beta1; v1 aliases the same messages):
// AuthorizationPolicy and RequestAuthentication, enforced by internal/authz.
func init() {
	AddRoot("AuthorizationPolicy", (&security.AuthorizationPolicy{}).ProtoReflect().Descriptor())
	AddRoot("RequestAuthentication", (&security.RequestAuthentication{}).ProtoReflect().Descriptor())

	impl := func(note string) Rule { return Rule{Status: Implemented, Reason: note} }
	const notTargeted = "a policy with targetRef(s) attaches to a Kubernetes Gateway API Gateway or a Service, never to an Istio Gateway workload, so it does not apply here (as in Istio; warning); with a selector as well it is an error"

	Declare("istio.security.v1beta1.AuthorizationPolicy", Message{
		"selector":   impl("matched against the gateway's --labels; policies in --root-namespace apply to every namespace, others only in the gateway's --namespace"),
		"targetRef":  impl(notTargeted),
		"targetRefs": impl(notTargeted),
		"rules":      impl("no rules: an ALLOW policy allows nothing, a DENY policy denies nothing; an empty rule matches everything"),
		"action":     impl("CUSTOM, then DENY, then ALLOW; AUDIT counted and logged; annotation istio.io/dry-run evaluates without enforcing"),
		"provider":   {Status: Rejected, Reason: "CUSTOM (ext_authz) is not implemented: the policy is an error and fails closed (the requests its rules match are denied)"},
	})
	Declare("istio.security.v1beta1.AuthorizationPolicy.ExtensionProvider", Message{
		"name": {Status: Rejected, Reason: "CUSTOM (ext_authz) is not implemented; fails closed"},
	})
	Declare("istio.type.v1beta1.PolicyTargetReference", Message{
		"group":     impl(notTargeted),
		"kind":      impl(notTargeted),
		"name":      impl(notTargeted),
		"namespace": impl(notTargeted),
	})
	Declare("istio.security.v1beta1.Rule", Message{
		"from": impl("OR of sources"),
		"to":   impl("OR of operations"),
		"when": impl("AND of conditions"),
	})
	Declare("istio.security.v1beta1.Rule.From", Message{"source": impl("")})
	Declare("istio.security.v1beta1.Rule.To", Message{"operation": impl("")})
	const peer = "the verified client certificate's principal as Envoy names it (URI SAN, else DNS SAN, else subject): only on MUTUAL/OPTIONAL_MUTUAL hosts with a certificate; Istio's spiffe:// matching"
	Declare("istio.security.v1beta1.Source", Message{
		"principals":             impl(peer),
		"not_principals":         impl(peer),
		"request_principals":     impl("iss/sub of the token RequestAuthentication verified, split at the last /"),
		"not_request_principals": impl("iss/sub of the verified token; no token matches every notRequestPrincipals"),
		"namespaces":             impl("Istio's /ns/<namespace>/ pattern over the client certificate's principal (SPIFFE certificates); without one, never matches"),
		"not_namespaces":         impl("as namespaces"),
		"service_accounts":       impl("Istio's spiffe://<td>/ns/<ns>/sa/<sa> pattern over the client certificate's principal"),
		"not_service_accounts":   impl("as serviceAccounts"),
		"trust_domains":          impl("Istio's spiffe://<td>/ pattern over the client certificate's principal"),
		"not_trust_domains":      impl("as trustDomains"),
		"ip_blocks":              impl("the peer (TCP) address"),
		"not_ip_blocks":          impl("the peer (TCP) address"),
		"remote_ip_blocks":       impl("X-Forwarded-For per --num-trusted-proxies (Envoy's xff_num_trusted_hops), else the peer address"),
		"not_remote_ip_blocks":   impl("as remoteIpBlocks"),
	})
	Declare("istio.security.v1beta1.Operation", Message{
		"hosts":       impl("the Host header as sent (port included), case-insensitive, * prefix/suffix"),
		"not_hosts":   impl("as hosts"),
		"ports":       impl("the Gateway server port number (not the --port-map address)"),
		"not_ports":   impl("as ports"),
		"methods":     impl(""),
		"not_methods": impl(""),
		"paths":       impl("on the normalized path the router uses; * prefix/suffix, {*} and {**} templates"),
		"not_paths":   impl("as paths"),
	})
	Declare("istio.security.v1beta1.Condition", Message{
		"key":        impl("request.headers[], source.ip, remote.ip, source.namespace, source.principal, request.auth.principal/audiences/presenter/claims[][], destination.ip, destination.port, connection.sni; experimental.* and unknown keys are errors and fail closed"),
		"values":     impl(""),
		"not_values": impl(""),
	})

	Declare("istio.security.v1beta1.RequestAuthentication", Message{
		"selector":   impl("as AuthorizationPolicy.selector"),
		"targetRef":  impl(notTargeted),
		"targetRefs": impl(notTargeted),
		"jwt_rules":  impl("all rules of all applicable policies: a token must verify with one of them (401 otherwise); no token passes"),
	})
	Declare("istio.security.v1beta1.JWTRule", Message{
		"issuer":                   impl("required"),
		"audiences":                impl(""),
		"jwks_uri":                 impl("fetched over HTTPS (--jwks-ca-file), refreshed every --jwks-refresh-interval with backoff; the last good key set is kept"),
		"jwks":                     impl("inline key set"),
		"from_headers":             impl(""),
		"from_params":              impl(""),
		"output_payload_to_header": impl("client-supplied values of the header are removed"),
		"from_cookies":             impl(""),
		"forward_original_token":   impl("false: the token's header is removed after verification (query parameters and cookies are left, as Envoy)"),
		"output_claim_to_headers":  impl("client-supplied values of the headers are removed"),
		"timeout":                  impl("bounds one jwksUri fetch"),
		"space_delimited_claims":   impl("plus scope and permission, always"),
		"presence":                 {Status: Rejected, Reason: "only OPTIONAL (the default) is implemented; REQUIRED is an error and rejects every token"},
	})
	Declare("istio.security.v1beta1.JWTHeader", Message{
		"name":   impl(""),
		"prefix": impl(""),
	})
	Declare("istio.security.v1beta1.ClaimToHeader", Message{
		"header": impl(""),
		"claim":  impl("nested claims with '.'; strings, numbers and booleans"),
	})
}
