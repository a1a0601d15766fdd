package snapshot

// Telemetry is what the Telemetry resources that apply to the gateway set (internal/telemetry).
// Each field is nil when no Telemetry sets it: the flags then decide.
type Telemetry struct {
	// AccessLog turns the access log in Istio's text format to stdout on (true) or off.
	AccessLog *bool `json:"accessLog,omitempty"`
	// Sampling is the percentage (0-100) of new traces sampled.
	Sampling *float64 `json:"sampling,omitempty"`
}
