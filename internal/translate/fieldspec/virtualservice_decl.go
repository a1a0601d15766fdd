package fieldspec

import (
	"maps"

	networking "istio.io/api/networking/v1alpha3"
)

// Declarations of VirtualService and the HTTP routing messages (internal/translate
// routes.go, match.go, virtualservice.go, delegate.go; internal/dataplane/router). The
// policy fields of HTTPRoute are declared in policy_decl.go, the L4 routes in l4_decl.go.

func init() {
	AddRoot("VirtualService", (&networking.VirtualService{}).ProtoReflect().Descriptor())
	vs := Message{
		"hosts":    {Implemented, "Host header (and SNI-selected server) matching; a delegate VirtualService has none"},
		"gateways": {Implemented, "binds to this gateway's Gateways; \"mesh\" is ignored (no sidecars)"},
		"http":     {Implemented, ""},
		"export_to": {Implemented, "as Istio applies it to a gateway in its own namespace: \".\" (the " +
			"VirtualService's namespace), \"*\", \"~\" (nowhere) or namespace names; unset = --default-virtual-service-export-to"},
	}
	// L4 routes (messages declared in l4_decl.go).
	vs["tls"] = Rule{Implemented, "on PASSTHROUGH servers (l4_decl.go)"}
	vs["tcp"] = Rule{Implemented, "on TCP and TLS-terminating servers (l4_decl.go)"}
	Declare("istio.networking.v1alpha3.VirtualService", vs)

	route := Message{
		"name":            {Implemented, "route name (rule name, or its index) in diagnostics and fail-closed answers"},
		"match":           {Implemented, "OR of matches; none = every request"},
		"route":           {Implemented, "weighted destinations, picked per route by smooth weighted round robin"},
		"redirect":        {Implemented, ""},
		"direct_response": {Implemented, ""},
		"delegate":        {Implemented, "only in a root VirtualService bound to a gateway; merged with the child's rules as Istio's mergeHTTPRoutes"},
		"rewrite":         {Implemented, ""},
		"headers":         {Implemented, "Host/:authority set or add rewrites the authority, as Istio; response operations also apply to redirect and directResponse answers, as Envoy applies route-level response headers"},
	}
	maps.Copy(route, httpRoutePolicyFields())
	Declare("istio.networking.v1alpha3.HTTPRoute", route)

	Declare("istio.networking.v1alpha3.HTTPMatchRequest", Message{
		"name":      {NoEffect, "names the match in Istio's generated route names; portcullis names routes by rule"},
		"uri":       {Implemented, "exact, prefix, RE2 regex (full match); {} = every path"},
		"scheme":    {Implemented, "the downstream connection's scheme: https on TLS, else http (X-Forwarded-Proto is not consulted)"},
		"method":    {Implemented, ""},
		"authority": {Implemented, "the Host header as received, port included"},
		"headers": {Implemented, "{} or regex \"*\" = header present; repeated values joined with \",\"; " +
			"@request.auth.claims matches fail closed (no RequestAuthentication yet)"},
		"port":             {Implemented, "the Gateway server's port"},
		"source_labels":    {Implemented, "selects this gateway when a subset of its --labels (ignored when gateways is set, as Istio)"},
		"gateways":         {Implemented, ""},
		"query_params":     {Implemented, "every StringMatch kind; {} or regex \"*\" = parameter present; the first value of the name"},
		"ignore_uri_case":  {Implemented, "exact and prefix URI matches"},
		"without_headers":  {Implemented, "{} = header absent; a value matcher treats a missing header as \"\" (Istio's invert_match + treat_missing_header_as_empty)"},
		"source_namespace": {Implemented, "selects this gateway when equal to its namespace"},
		"stat_prefix":      {Implemented, "the route's requests are also recorded in the request metrics under \"route/<statPrefix>\""},
	})
	Declare("istio.networking.v1alpha3.StringMatch", Message{
		"exact":  {Implemented, ""},
		"prefix": {Implemented, ""},
		"regex":  {Implemented, "RE2, anchored (full match) as Envoy's safe_regex; a regex that does not compile fails the rule closed"},
	})
	Declare("istio.networking.v1alpha3.HTTPRouteDestination", Message{
		"destination": {Implemented, ""},
		"weight":      {Implemented, "must sum to 100 with several destinations"},
		"headers":     {Implemented, "composed with the rule's headers in Istio's order (single destination: after the rule's; weighted: before)"},
	})
	Declare("istio.networking.v1alpha3.Destination", Message{
		"host":   {Implemented, "ServiceEntry host or Kubernetes Service name (short names resolved in the VirtualService's namespace)"},
		"subset": {Implemented, "DestinationRule subset labels select ServiceEntry endpoints"},
		"port":   {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.PortSelector", Message{
		"number": {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.Headers", Message{
		"request":  {Implemented, ""},
		"response": {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.Headers.HeaderOperations", Message{
		"set":    {Implemented, "applied after remove, before add"},
		"add":    {Implemented, ""},
		"remove": {Implemented, "pseudo-headers and Host are never removed (as Istio)"},
	})
	Declare("istio.networking.v1alpha3.HTTPRedirect", Message{
		"uri":            {Implemented, "replaces the whole path (Envoy path_redirect); the query is kept unless uri has one"},
		"authority":      {Implemented, ""},
		"port":           {Implemented, "no explicit :80 for http or :443 for https, as Istio"},
		"derive_port":    {Implemented, "FROM_REQUEST_PORT = the Gateway server's port; FROM_PROTOCOL_DEFAULT sets none (Envoy's default)"},
		"scheme":         {Implemented, "http or https"},
		"redirect_code":  {Implemented, "301 (default), 302, 303, 307, 308"},
		"prefix_rewrite": {Implemented, "replaces the part of the path the rule's prefix matched (Envoy prefix_rewrite)"},
	})
	Declare("istio.networking.v1alpha3.HTTPDirectResponse", Message{
		"status": {Implemented, ""},
		"body":   {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.HTTPBody", Message{
		"string": {Implemented, ""},
		"bytes":  {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.Delegate", Message{
		"name":      {Implemented, ""},
		"namespace": {Implemented, "defaults to the root VirtualService's namespace"},
	})
	Declare("istio.networking.v1alpha3.HTTPRewrite", Message{
		"uri":               {Implemented, "replaces the matched prefix (whole path for exact/regex matches), as Istio"},
		"authority":         {Implemented, ""},
		"uri_regex_rewrite": {Implemented, "every match of the RE2 regex replaced, \\1 groups, as Envoy regex_rewrite"},
	})
	Declare("istio.networking.v1alpha3.RegexRewrite", Message{
		"match":   {Implemented, ""},
		"rewrite": {Implemented, ""},
	})
}
