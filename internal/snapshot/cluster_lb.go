package snapshot

// LoadBalancer is trafficPolicy.loadBalancer (design 0021).
type LoadBalancer struct {
	// Simple: "ROUND_ROBIN" (also the default, ""), "LEAST_REQUEST", "RANDOM". Ignored when
	// Hash is set.
	Simple string `json:"simple,omitempty"`
	// Hash: consistentHash — ring hash (Envoy RING_HASH) or Maglev.
	Hash *ConsistentHash `json:"consistentHash,omitempty"`
	// Warmup: slow start of newly added endpoints (warmupDurationSecs or warmup), for
	// ROUND_ROBIN and LEAST_REQUEST; nil = none.
	Warmup *Warmup `json:"warmup,omitempty"`
}

// ConsistentHash is loadBalancer.consistentHash. Exactly one key is set.
type ConsistentHash struct {
	Header         string      `json:"httpHeaderName,omitempty"`
	Cookie         *HashCookie `json:"httpCookie,omitempty"`
	SourceIP       bool        `json:"useSourceIp,omitempty"`
	QueryParameter string      `json:"httpQueryParameterName,omitempty"`
	// Maglev: a Maglev table of TableSize entries (a prime; default 65537); otherwise a
	// ring of at least RingSize entries (default 1024).
	Maglev    bool   `json:"maglev,omitempty"`
	TableSize uint64 `json:"tableSize,omitempty"`
	RingSize  uint64 `json:"minimumRingSize,omitempty"`
}

// HashCookie is consistentHash.httpCookie. With TTL set (even to 0), a request without
// the cookie gets one generated and set on its response, as Envoy does.
type HashCookie struct {
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	// TTLSeconds is the cookie's Max-Age (0: a session cookie); HasTTL false: never
	// generated.
	TTLSeconds int64             `json:"ttlSeconds,omitempty"`
	HasTTL     bool              `json:"hasTtl,omitempty"`
	Attributes []CookieAttribute `json:"attributes,omitempty"`
}

// CookieAttribute is an extra attribute of a generated cookie ("SameSite=Lax", "Secure").
type CookieAttribute struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Warmup is Envoy's slow_start_config: an endpoint added less than WindowMillis ago has
// its weight scaled by max(MinPercent/100, (age/window)^(1/Aggression)).
type Warmup struct {
	WindowMillis int64   `json:"windowMillis"`
	Aggression   float64 `json:"aggression"`
	MinPercent   float64 `json:"minWeightPercent"`
}

// OutlierDetection is trafficPolicy.outlierDetection (passive health checking), with
// Envoy's defaults applied as Istio configures them: a zero threshold disables its check.
type OutlierDetection struct {
	Consecutive5xx         uint32 `json:"consecutive5xxErrors,omitempty"`
	ConsecutiveGateway     uint32 `json:"consecutiveGatewayErrors,omitempty"`
	ConsecutiveLocalOrigin uint32 `json:"consecutiveLocalOriginFailures,omitempty"`
	// SplitLocalOrigin: locally originated failures (connect failure, reset, timeout) are
	// counted apart from responses (splitExternalLocalOriginErrors).
	SplitLocalOrigin   bool  `json:"splitExternalLocalOriginErrors,omitempty"`
	IntervalMillis     int64 `json:"intervalMillis"`
	BaseEjectionMillis int64 `json:"baseEjectionMillis"`
	MaxEjectionMillis  int64 `json:"maxEjectionMillis"`
	MaxEjectionPercent int   `json:"maxEjectionPercent"`
	// MinHealthPercent: Envoy's healthy_panic_threshold; below it every endpoint is used
	// (ejected or not). 0 disables it.
	MinHealthPercent int `json:"minHealthPercent,omitempty"`
}
