package fieldspec

// Declarations of DestinationRule loadBalancer and outlierDetection (internal/translate
// lb.go, design 0021).

func declareLoadBalancing() {
	noLocality := "locality-aware load balancing is relative to the proxy's own locality, which a portcullis gateway does not have; not supported (routes to the host fail closed)"
	Declare("istio.networking.v1alpha3.LoadBalancerSettings", Message{
		"simple":                {Implemented, "ROUND_ROBIN (smooth weighted), LEAST_REQUEST (Envoy's power of two choices; weights divided by active requests when endpoints are weighted), RANDOM; UNSPECIFIED = ROUND_ROBIN (Istio's default is LEAST_REQUEST, see design 0021); PASSTHROUGH is an error"},
		"consistent_hash":       {Implemented, "ring hash (default) or Maglev over the endpoints not ejected, keyed by xxHash64 as Envoy"},
		"backend_utilization":   {Rejected, "backendUtilization load balancing needs ORCA load reports from backends; not supported (routes to the host fail closed)"},
		"locality_lb_setting":   {Rejected, noLocality},
		"zone_aware_lb_setting": {Rejected, noLocality},
		"warmup_duration_secs":  {Implemented, "slow start of endpoints added after the cluster first appeared (ROUND_ROBIN, LEAST_REQUEST; warned and ignored with RANDOM and consistentHash, as Istio ignores it)"},
		"warmup":                {Implemented, "as warmupDurationSecs, with minimumPercent (default 10) and aggression (default 1)"},
	})
	Declare("istio.networking.v1alpha3.LoadBalancerSettings.ConsistentHashLB", Message{
		"http_header_name":          {Implemented, "all values of the header, order-independent"},
		"http_cookie":               {Implemented, "generated when absent and ttl is set (Set-Cookie on the upstream's response, as Envoy)"},
		"use_source_ip":             {Implemented, "the downstream address: X-Forwarded-For per --num-trusted-proxies, else the peer's"},
		"http_query_parameter_name": {Implemented, ""},
		"ring_hash":                 {Implemented, ""},
		"maglev":                    {Implemented, ""},
		"minimum_ring_size":         {Implemented, "deprecated: a ring of at least this size (warned)"},
	})
	Declare("istio.networking.v1alpha3.LoadBalancerSettings.ConsistentHashLB.HTTPCookie", Message{
		"name":       {Implemented, ""},
		"path":       {Implemented, "Path of a generated cookie"},
		"ttl":        {Implemented, "Max-Age of a generated cookie (0s: a session cookie); unset: never generated"},
		"attributes": {Implemented, "added to a generated cookie"},
	})
	Declare("istio.networking.v1alpha3.LoadBalancerSettings.ConsistentHashLB.HTTPCookie.Attribute", Message{
		"name":  {Implemented, ""},
		"value": {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.LoadBalancerSettings.ConsistentHashLB.RingHash", Message{
		"minimum_ring_size": {Implemented, "default 1024; at most 8M entries (Envoy's maximum_ring_size)"},
	})
	Declare("istio.networking.v1alpha3.LoadBalancerSettings.ConsistentHashLB.MagLev", Message{
		"table_size": {Implemented, "a prime below 5000011 (Istio's validation); default 65537"},
	})
	Declare("istio.networking.v1alpha3.WarmupConfiguration", Message{
		"duration":        {Implemented, ""},
		"minimum_percent": {Implemented, ""},
		"aggression":      {Implemented, ""},
	})
	Declare("istio.networking.v1alpha3.OutlierDetection", Message{
		"consecutive_errors":                 {NoEffect, "deprecated; Istio ignores it (use consecutive5xxErrors or consecutiveGatewayErrors)"},
		"split_external_local_origin_errors": {Implemented, ""},
		"consecutive_local_origin_failures":  {Implemented, "with splitExternalLocalOriginErrors; unset or 0 = Envoy's default 5, as Istio sets it only when > 0"},
		"consecutive_gateway_errors":         {Implemented, "502/503/504, connect failures, resets and timeouts; unset or 0 disables"},
		"consecutive_5xx_errors":             {Implemented, "default 5; 0 disables"},
		"interval":                           {Implemented, "default 10s: ejections end at the first sweep after their time"},
		"base_ejection_time":                 {Implemented, "default 30s, times the endpoint's ejection back-off, capped at max(300s, baseEjectionTime)"},
		"max_ejection_percent":               {Implemented, "default 10 (Envoy's): with fewer than 10 endpoints nothing is ejected unless it is raised"},
		"min_health_percent":                 {Implemented, "Envoy's panic threshold: below it every endpoint is used; default 0 (off)"},
		"outlier_detection_http_error_codes": {Rejected, "outlierDetectionHttpErrorCodes: not supported yet (routes to the host fail closed)"},
		"failure_percentage_threshold":       {Rejected, "failurePercentageThreshold: not supported yet (routes to the host fail closed)"},
	})
}
