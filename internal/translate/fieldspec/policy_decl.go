package fieldspec

// Declarations of the HTTPRoute policy fields (timeouts, retries, fault injection,
// mirroring, CORS) and their messages. The behaviour lives in internal/translate/policies.go
// and internal/dataplane/{retry,fault,mirror,cors}.go.

// httpRoutePolicyFields are HTTPRoute's policy fields, merged into its declaration.
func httpRoutePolicyFields() Message {
	return Message{
		"timeout":           {Implemented, "none unless set; 0s disables; any length"},
		"retries":           {Implemented, "Istio's default (2 attempts on connect-failure,refused-stream,unavailable,cancelled) when absent"},
		"fault":             {Implemented, ""},
		"mirror":            {Implemented, "fire-and-forget, bounded in flight"},
		"mirrors":           {Implemented, ""},
		"mirror_percent":    {Implemented, "deprecated spelling of mirrorPercentage"},
		"mirror_percentage": {Implemented, ""},
		"cors_policy":       {Implemented, "preflights answered by the gateway, as Envoy's CORS filter"},
	}
}

func init() {
	Declare("istio.networking.v1alpha3.HTTPRetry", Message{
		"attempts":                    {Implemented, ""},
		"per_try_timeout":             {Implemented, ""},
		"retry_on":                    {Implemented, "Envoy's retry conditions; retriable-headers and http3-post-connect-failure never trigger (warned)"},
		"retry_remote_localities":     {NoEffect, "portcullis has no localities"},
		"retry_ignore_previous_hosts": {Implemented, "another endpoint is preferred on retry"},
		"backoff":                     {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.HTTPFaultInjection", Message{
		"delay": {Implemented, ""},
		"abort": {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.HTTPFaultInjection.Delay", Message{
		"percent":           {Implemented, "deprecated integer percentage"},
		"fixed_delay":       {Implemented, ""},
		"exponential_delay": {Rejected, "exponentialDelay is not supported (not by Istio either)"},
		"percentage":        {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.HTTPFaultInjection.Abort", Message{
		"http_status": {Implemented, ""},
		"grpc_status": {Implemented, ""},
		"http2_error": {Rejected, "http2Error is not supported (not by Istio either)"},
		"percentage":  {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.Percent", Message{
		"value": {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.HTTPMirrorPolicy", Message{
		"destination": {Implemented, ""},
		"percentage":  {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.CorsPolicy", Message{
		"allow_origin":         {Implemented, "deprecated exact origins"},
		"allow_origins":        {Implemented, "exact, prefix, regex"},
		"allow_methods":        {Implemented, ""},
		"allow_headers":        {Implemented, ""},
		"expose_headers":       {Implemented, ""},
		"max_age":              {Implemented, "whole seconds (a fraction is an error, as in Istio's validation)"},
		"allow_credentials":    {Implemented, ""},
		"unmatched_preflights": {Implemented, ""},
	})
}
