package snapshot

// LoadBalancer is trafficPolicy.loadBalancer.
type LoadBalancer struct {
	// Simple: "ROUND_ROBIN" (default), "LEAST_REQUEST", "RANDOM".
	Simple string `json:"simple,omitempty"`
}

// OutlierDetection is trafficPolicy.outlierDetection (passive health checking).
type OutlierDetection struct {
}
