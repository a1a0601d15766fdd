package translate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// compilePolicies translates the rule's timeout, retries, fault, mirrors and corsPolicy
// (design 0013). Fault and CORS apply to every action, as Envoy's per-route filter
// configuration; timeout, retries and mirrors only to route destinations.
func (t *translator) compilePolicies(f, rf *findings, base string, vs *resources.VirtualService, r *networking.HTTPRoute, cr *compiledRoute) {
	if r.Fault != nil {
		cr.route.Fault = fault(rf, base+".fault", r.Fault)
	}
	if r.CorsPolicy != nil {
		cr.route.CORS = cors(rf, base+".corsPolicy", r.CorsPolicy, strings.HasPrefix(vs.APIVersion, gatewayAPIGroup+"/"))
	}
	fw := cr.route.Forward
	if fw == nil {
		noEffect := func(field string, set bool) {
			if set {
				rf.warnf(base+"."+field, "%s has no effect without route destinations (as in Istio); ignored", field)
			}
		}
		noEffect("timeout", r.Timeout != nil)
		noEffect("retries", r.Retries != nil)
		noEffect("mirror", r.Mirror != nil || len(r.Mirrors) > 0)
		return
	}
	if r.Timeout != nil {
		if d, ok := duration(rf, base+".timeout", r.Timeout, 0); ok && d > 0 {
			fw.TimeoutMillis = max(d.Milliseconds(), 1)
		}
	}
	fw.Retry = retryPolicy(rf, base+".retries", r.Retries)
	fw.Mirrors = t.mirrors(f, rf, base, vs, r, cr)
}

// duration checks a Duration field: valid, not negative, and at least min when non-zero.
func duration(rf *findings, field string, d *durationpb.Duration, min time.Duration) (time.Duration, bool) {
	if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
		rf.errorf(field, "invalid duration %s", d.AsDuration())
		return 0, false
	}
	v := d.AsDuration()
	if v != 0 && v < min {
		rf.errorf(field, "duration %s is shorter than %s", v, min)
		return 0, false
	}
	return v, true
}

func retryPolicy(rf *findings, field string, in *networking.HTTPRetry) *snapshot.Retry {
	if in == nil {
		return nil // snapshot.DefaultRetry
	}
	if in.Attempts < 0 {
		rf.errorf(field+".attempts", "attempts %d is negative", in.Attempts)
		return nil
	}
	if in.Attempts == 0 {
		if in.RetryOn != "" || in.PerTryTimeout != nil || in.Backoff != nil {
			rf.warnf(field, "attempts 0 disables retries (as in Istio): retryOn, perTryTimeout and backoff have no effect")
		}
		return &snapshot.Retry{}
	}
	out := &snapshot.Retry{Retries: int(in.Attempts), On: snapshot.DefaultRetry.On}
	if in.RetryOn != "" {
		out.On, out.StatusCodes = retryOn(rf, field+".retryOn", in.RetryOn)
	}
	if in.PerTryTimeout != nil {
		if d, ok := duration(rf, field+".perTryTimeout", in.PerTryTimeout, time.Millisecond); ok {
			out.PerTryTimeoutMillis = d.Milliseconds()
		}
	}
	if in.Backoff != nil {
		if d, ok := duration(rf, field+".backoff", in.Backoff, time.Millisecond); ok && d > 0 {
			out.BackoffMillis = d.Milliseconds()
		}
	}
	if in.RetryIgnorePreviousHosts != nil && !in.RetryIgnorePreviousHosts.GetValue() {
		out.SameHost = true
	}
	if in.RetryRemoteLocalities.GetValue() {
		rf.warnf(field+".retryRemoteLocalities", "has no effect: the gateway's endpoints carry no locality priorities, so every retry already considers every endpoint")
	}
	return out
}

// retryOn parses Istio's retryOn: Envoy condition names and HTTP status codes (which add
// retriable-status-codes), as pilot's parseRetryOn and Istio's validation. A status code
// is any number in 100-599 (pilot takes the numbers Go's net/http names).
func retryOn(rf *findings, field, s string) (snapshot.RetryOn, []int) {
	var on snapshot.RetryOn
	var codes []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if n, err := strconv.Atoi(part); err == nil && n >= 100 && n <= 599 {
			codes = append(codes, n)
			on |= snapshot.RetryStatusCodes
			continue
		}
		found := false
		for _, c := range snapshot.RetryConditionNames {
			if c.Name == part {
				on |= c.On
				found = true
			}
		}
		if !found {
			rf.errorf(field, "%q is not a valid retryOn policy", part)
		}
		switch part {
		case "retriable-headers":
			rf.warnf(field, "retriable-headers never triggers: Istio configures no retriable header names")
		case "http3-post-connect-failure":
			rf.warnf(field, "http3-post-connect-failure never triggers: upstream requests do not use HTTP/3")
		}
	}
	return on, codes
}

// percent converts an Istio Percent (0-100) to millionths, as pilot does.
func percent(rf *findings, field string, p *networking.Percent) snapshot.PerMillion {
	v := p.GetValue()
	if v < 0 || v > 100 {
		rf.errorf(field, "percentage %v is not in 0-100", v)
		return 0
	}
	return snapshot.PerMillion(v * 10000)
}

func intPercent(rf *findings, field string, v int64) snapshot.PerMillion {
	if v < 0 || v > 100 {
		rf.errorf(field, "percent %d is not in 0-100", v)
		return 0
	}
	return snapshot.PerMillion(v * 10000)
}

func fault(rf *findings, field string, in *networking.HTTPFaultInjection) *snapshot.Fault {
	out := &snapshot.Fault{}
	if d := in.Delay; d != nil {
		df := field + ".delay"
		frac := intPercent(rf, df+".percent", int64(d.Percent)) //nolint:staticcheck // deprecated, still honoured
		if d.Percentage != nil {
			frac = percent(rf, df+".percentage.value", d.Percentage)
		}
		switch v := d.HttpDelayType.(type) {
		case *networking.HTTPFaultInjection_Delay_FixedDelay:
			if dur, ok := duration(rf, df+".fixedDelay", v.FixedDelay, time.Millisecond); ok {
				out.Delay = &snapshot.FaultDelay{DelayMillis: dur.Milliseconds(), Fraction: frac}
			}
		case *networking.HTTPFaultInjection_Delay_ExponentialDelay:
			// Declared Rejected (fieldspec): the generic field check reports it.
		default:
			rf.errorf(df+".fixedDelay", "fixedDelay is required")
		}
		if out.Delay != nil && (frac == 0 || out.Delay.DelayMillis == 0) {
			rf.warnf(df, "delays no request (percentage or delay is 0)")
			out.Delay = nil
		}
	}
	if a := in.Abort; a != nil {
		af := field + ".abort"
		ab := &snapshot.FaultAbort{GRPCStatus: -1}
		if a.Percentage != nil {
			ab.Fraction = percent(rf, af+".percentage.value", a.Percentage)
		}
		switch v := a.ErrorType.(type) {
		case *networking.HTTPFaultInjection_Abort_HttpStatus:
			if v.HttpStatus < 200 || v.HttpStatus > 599 {
				rf.errorf(af+".httpStatus", "httpStatus %d is not in 200-599", v.HttpStatus)
			}
			ab.HTTPStatus = int(v.HttpStatus)
		case *networking.HTTPFaultInjection_Abort_GrpcStatus:
			var c codes.Code
			if err := c.UnmarshalJSON([]byte(strconv.Quote(v.GrpcStatus))); err != nil || strings.Trim(v.GrpcStatus, "0123456789") == "" {
				rf.errorf(af+".grpcStatus", "grpcStatus %q is not a gRPC status name (e.g. UNAVAILABLE)", v.GrpcStatus)
			}
			ab.GRPCStatus = int(c)
		case *networking.HTTPFaultInjection_Abort_Http2Error:
			// Declared Rejected (fieldspec): the generic field check reports it.
		default:
			rf.errorf(af, "abort needs httpStatus or grpcStatus")
		}
		switch {
		case ab.Fraction == 0:
			rf.warnf(af, "aborts no request (no percentage, or 0: Istio aborts none then)")
		default:
			out.Abort = ab
		}
	}
	if out.Delay == nil && out.Abort == nil {
		return nil
	}
	return out
}

// mirrors returns the rule's mirror policies: mirror with mirrorPercentage (or the
// deprecated mirrorPercent), then mirrors[] (both apply when both are set, as in pilot),
// each 100 % unless its percentage says otherwise; an explicit 0 mirrors nothing.
func (t *translator) mirrors(f, rf *findings, base string, vs *resources.VirtualService, r *networking.HTTPRoute, cr *compiledRoute) []snapshot.Mirror {
	var out []snapshot.Mirror
	add := func(field string, d *networking.Destination, frac snapshot.PerMillion) {
		if frac == 0 {
			rf.warnf(field, "mirror percentage is 0: nothing is mirrored")
			return
		}
		name, ok := t.destination(f, rf, field, vs, d)
		if !ok {
			return
		}
		out = append(out, snapshot.Mirror{Cluster: name, Fraction: frac})
		cr.clusters = append(cr.clusters, name)
	}
	if r.Mirror != nil {
		frac := snapshot.Million
		switch {
		case r.MirrorPercentage != nil:
			frac = percent(rf, base+".mirrorPercentage.value", r.MirrorPercentage)
		case r.MirrorPercent != nil: //nolint:staticcheck // deprecated, still honoured
			frac = intPercent(rf, base+".mirrorPercent", int64(r.MirrorPercent.GetValue())) //nolint:staticcheck
		}
		add(base+".mirror", r.Mirror, frac)
	} else if r.MirrorPercentage != nil || r.MirrorPercent != nil { //nolint:staticcheck
		rf.warnf(base+".mirrorPercentage", "has no effect without mirror (as in Istio)")
	}
	for j, m := range r.Mirrors {
		mf := fmt.Sprintf("%s.mirrors[%d]", base, j)
		if m == nil || m.Destination == nil {
			rf.errorf(mf+".destination", "destination is required")
			continue
		}
		frac := snapshot.Million
		if m.Percentage != nil {
			frac = percent(rf, mf+".percentage.value", m.Percentage)
		}
		add(mf+".destination", m.Destination, frac)
	}
	return out
}

// cors: gatewayAPI marks a policy derived from a Gateway API CORS filter (internal/gatewayapi),
// which allows the method "*" and is answered by the Gateway API's rules.
func cors(rf *findings, field string, in *networking.CorsPolicy, gatewayAPI bool) *snapshot.CORS {
	out := &snapshot.CORS{
		GatewayAPI:                 gatewayAPI,
		AllowMethods:               strings.Join(in.AllowMethods, ","),
		AllowHeaders:               strings.Join(in.AllowHeaders, ","),
		ExposeHeaders:              strings.Join(in.ExposeHeaders, ","),
		AllowCredentials:           in.AllowCredentials.GetValue(),
		ForwardUnmatchedPreflights: in.UnmatchedPreflights != networking.CorsPolicy_IGNORE,
	}
	for j, m := range in.AllowMethods {
		switch m {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH":
		case "*":
			if !gatewayAPI {
				rf.errorf(fmt.Sprintf("%s.allowMethods[%d]", field, j), "%q is not a supported HTTP method", m)
			}
		default:
			rf.errorf(fmt.Sprintf("%s.allowMethods[%d]", field, j), "%q is not a supported HTTP method", m)
		}
	}
	if in.AllowOrigins != nil {
		for j, m := range in.AllowOrigins {
			if sm := stringMatch(rf, fmt.Sprintf("%s.allowOrigins[%d]", field, j), m, true); sm != nil {
				out.AllowOrigins = append(out.AllowOrigins, *sm)
			}
		}
	} else {
		for _, o := range in.AllowOrigin { //nolint:staticcheck // deprecated, still honoured
			out.AllowOrigins = append(out.AllowOrigins, snapshot.StringMatch{Kind: snapshot.Exact, Value: o})
		}
	}
	if in.MaxAge != nil {
		if d, ok := duration(rf, field+".maxAge", in.MaxAge, 0); ok {
			if d%time.Second != 0 {
				rf.errorf(field+".maxAge", "maxAge %s is not whole seconds (Envoy's max_age is in seconds)", d)
			}
			out.MaxAge = strconv.FormatInt(in.MaxAge.GetSeconds(), 10)
		}
	}
	if len(out.AllowOrigins) == 0 {
		rf.warnf(field, "no allowOrigins: no origin is allowed, so the policy adds no CORS headers")
	}
	return out
}
