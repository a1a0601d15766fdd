package snapshot

import (
	"encoding/json"
	"strings"
)

// Route policies (design 0013): retries, fault injection, mirroring and CORS of one
// VirtualService rule. Every pointer is nil (and every slice empty) when the rule sets
// nothing, so a route without policies costs nothing at request time.

// PerMillion is a fraction of requests in millionths, as Envoy's FractionalPercent with
// denominator MILLION: Istio's Percent value 12.5 is 125000.
type PerMillion uint32

// Million is 100 %.
const Million PerMillion = 1_000_000

// Retry is a route's retry policy (Envoy RetryPolicy as Istio builds it).
type Retry struct {
	// Retries after the first attempt (Istio attempts, Envoy num_retries); 0: no retries
	// (Istio attempts: 0).
	Retries int `json:"retries"`
	// PerTryTimeoutMillis bounds each attempt; 0: only the route timeout.
	PerTryTimeoutMillis int64 `json:"perTryTimeoutMillis,omitempty"`
	// On is the set of retry conditions (Envoy retry_on).
	On RetryOn `json:"on"`
	// StatusCodes are retried when On has RetryStatusCodes (Istio's numeric retryOn).
	StatusCodes []int `json:"statusCodes,omitempty"`
	// BackoffMillis is the base back-off interval; 0: Envoy's 25 ms.
	BackoffMillis int64 `json:"backoffMillis,omitempty"`
	// SameHost: a retry may go to the endpoint that just failed (retryIgnorePreviousHosts
	// false). By default a retry prefers another endpoint.
	SameHost bool `json:"sameHost,omitempty"`
}

// DefaultRetry is Istio's retry policy for a rule without retries (pilot's
// retry.DefaultPolicy): two retries on connect failures, refused streams and the gRPC
// statuses unavailable and cancelled. retriable-status-codes is in its retry_on, but with no
// codes: a 503 response is not retried. A Forward with a nil Retry uses it.
var DefaultRetry = Retry{
	Retries: 2,
	On:      RetryConnectFailure | RetryRefusedStream | RetryGRPCUnavailable | RetryGRPCCancelled | RetryStatusCodes,
}

// RetryOn is a set of Envoy retry_on conditions.
type RetryOn uint32

// Retry conditions, named as in Envoy's x-envoy-retry-on / retry_on.
const (
	Retry5xx RetryOn = 1 << iota
	RetryGatewayError
	RetryReset
	RetryResetBeforeRequest
	RetryConnectFailure
	RetryRetriable4xx
	RetryRefusedStream
	RetryStatusCodes
	RetryHeaders
	RetryEnvoyRateLimited
	RetryHTTP3PostConnectFailure
	RetryGRPCCancelled
	RetryGRPCDeadlineExceeded
	RetryGRPCInternal
	RetryGRPCResourceExhausted
	RetryGRPCUnavailable
)

// RetryConditionNames maps Envoy's condition names to RetryOn bits, in Envoy's order.
var RetryConditionNames = []struct {
	Name string
	On   RetryOn
}{
	{"5xx", Retry5xx},
	{"gateway-error", RetryGatewayError},
	{"reset", RetryReset},
	{"reset-before-request", RetryResetBeforeRequest},
	{"connect-failure", RetryConnectFailure},
	{"retriable-4xx", RetryRetriable4xx},
	{"refused-stream", RetryRefusedStream},
	{"retriable-status-codes", RetryStatusCodes},
	{"retriable-headers", RetryHeaders},
	{"envoy-ratelimited", RetryEnvoyRateLimited},
	{"http3-post-connect-failure", RetryHTTP3PostConnectFailure},
	{"cancelled", RetryGRPCCancelled},
	{"deadline-exceeded", RetryGRPCDeadlineExceeded},
	{"internal", RetryGRPCInternal},
	{"resource-exhausted", RetryGRPCResourceExhausted},
	{"unavailable", RetryGRPCUnavailable},
}

// String lists the conditions comma-separated, in Envoy's order.
func (o RetryOn) String() string {
	var names []string
	for _, c := range RetryConditionNames {
		if o&c.On != 0 {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ",")
}

// MarshalJSON writes the conditions as Envoy's retry_on string.
func (o RetryOn) MarshalJSON() ([]byte, error) { return json.Marshal(o.String()) }

// UnmarshalJSON reads what MarshalJSON writes; unknown names are ignored.
func (o *RetryOn) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*o = 0
	for _, n := range strings.Split(s, ",") {
		for _, c := range RetryConditionNames {
			if c.Name == n {
				*o |= c.On
			}
		}
	}
	return nil
}

// Fault is a rule's fault injection (Envoy's fault filter, per route). Delay, then abort,
// each drawn independently.
type Fault struct {
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
}

// FaultDelay delays a fraction of requests before they go on.
type FaultDelay struct {
	DelayMillis int64      `json:"delayMillis"`
	Fraction    PerMillion `json:"fraction"`
}

// FaultAbort answers a fraction of requests locally. Exactly one of HTTPStatus and
// GRPCStatus is meaningful: GRPCStatus >= 0 means a gRPC abort (HTTP 200 with grpc-status).
type FaultAbort struct {
	HTTPStatus int        `json:"httpStatus,omitempty"`
	GRPCStatus int        `json:"grpcStatus"` // -1: an HTTP abort
	Fraction   PerMillion `json:"fraction"`
}

// Mirror copies a fraction of a route's requests to another cluster, fire and forget.
type Mirror struct {
	Cluster  string     `json:"cluster"`
	Fraction PerMillion `json:"fraction"`
}

// CORS is a rule's corsPolicy (Envoy's CORS filter, per route).
type CORS struct {
	// AllowOrigins: a request Origin matching one of these is allowed (a matcher that
	// matches "*" allows every origin, as Envoy).
	AllowOrigins []StringMatch `json:"allowOrigins,omitempty"`
	// AllowMethods, AllowHeaders, ExposeHeaders are the comma-joined lists Envoy sends.
	AllowMethods  string `json:"allowMethods,omitempty"`
	AllowHeaders  string `json:"allowHeaders,omitempty"`
	ExposeHeaders string `json:"exposeHeaders,omitempty"`
	// MaxAge is Access-Control-Max-Age in seconds, as a string; "" sends none.
	MaxAge           string `json:"maxAge,omitempty"`
	AllowCredentials bool   `json:"allowCredentials,omitempty"`
	// ForwardUnmatchedPreflights: a preflight whose origin is not allowed goes to the route's
	// action (Istio unmatchedPreflights FORWARD, the default); false answers it locally.
	ForwardUnmatchedPreflights bool `json:"forwardUnmatchedPreflights,omitempty"`
	// GatewayAPI: the policy is a Gateway API HTTPRoute CORS filter, answered as that spec
	// says rather than as Envoy's filter: a preflight also carries -Expose-Headers, a "*"
	// list is never sent back with credentials allowed, an empty echo is omitted.
	GatewayAPI bool `json:"gatewayAPI,omitempty"`
}
