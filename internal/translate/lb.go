package translate

import (
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// DestinationRule loadBalancer and outlierDetection (design 0021): lbPolicy translates a
// cluster's merged policy; checkLB validates every policy of a DestinationRule where it is
// written (top level, port level, subsets) as Istio's validation does, plus the values
// portcullis cannot honour. Its errors reject the rule, so routes to the host fail closed.

const (
	maglevMaxTableSize = 5000011 // Istio's validation bound
	ringMaxSize        = 8 << 20 // Envoy's maximum_ring_size
)

// lbPolicy sets c.LB and c.Outlier from tp (already validated by checkLB).
func lbPolicy(c *snapshot.Cluster, tp *networking.TrafficPolicy) {
	if lb := tp.GetLoadBalancer(); lb != nil {
		out := &snapshot.LoadBalancer{}
		switch lb.GetSimple() {
		case networking.LoadBalancerSettings_ROUND_ROBIN:
			out.Simple = "ROUND_ROBIN"
		case networking.LoadBalancerSettings_LEAST_REQUEST, networking.LoadBalancerSettings_LEAST_CONN: //nolint:staticcheck // LEAST_CONN: deprecated alias
			out.Simple = "LEAST_REQUEST"
		case networking.LoadBalancerSettings_RANDOM:
			out.Simple = "RANDOM"
		}
		if ch := lb.GetConsistentHash(); ch != nil {
			out.Simple = ""
			out.Hash = consistentHash(ch)
		}
		switch w := lb.GetWarmup(); {
		case w != nil:
			out.Warmup = &snapshot.Warmup{WindowMillis: w.GetDuration().AsDuration().Milliseconds(), Aggression: 1, MinPercent: 10}
			if w.Aggression != nil {
				out.Warmup.Aggression = w.Aggression.GetValue()
			}
			if w.MinimumPercent != nil {
				out.Warmup.MinPercent = w.MinimumPercent.GetValue()
			}
		case lb.GetWarmupDurationSecs() != nil:
			out.Warmup = &snapshot.Warmup{WindowMillis: lb.GetWarmupDurationSecs().AsDuration().Milliseconds(), Aggression: 1, MinPercent: 10}
		}
		if out.Warmup != nil && (out.Warmup.WindowMillis <= 0 || out.Hash != nil || out.Simple == "RANDOM") {
			out.Warmup = nil // no slow start for RANDOM and hashing, as Istio configures none
		}
		if *out != (snapshot.LoadBalancer{}) {
			c.LB = out
		}
	}
	if od := tp.GetOutlierDetection(); od != nil {
		c.Outlier = outlierDetection(od)
	}
}

func consistentHash(ch *networking.LoadBalancerSettings_ConsistentHashLB) *snapshot.ConsistentHash {
	out := &snapshot.ConsistentHash{RingSize: ch.GetMinimumRingSize()} //nolint:staticcheck // deprecated field still honoured
	switch {
	case ch.GetHttpCookie() != nil:
		ck := ch.GetHttpCookie()
		out.Cookie = &snapshot.HashCookie{Name: ck.GetName(), Path: ck.GetPath(), HasTTL: ck.GetTtl() != nil,
			TTLSeconds: int64(ck.GetTtl().AsDuration() / time.Second)}
		for _, a := range ck.GetAttributes() {
			out.Cookie.Attributes = append(out.Cookie.Attributes, snapshot.CookieAttribute{Name: a.GetName(), Value: a.GetValue()})
		}
	case ch.GetUseSourceIp():
		out.SourceIP = true
	case ch.GetHttpQueryParameterName() != "":
		out.QueryParameter = ch.GetHttpQueryParameterName()
	default:
		out.Header = ch.GetHttpHeaderName()
	}
	switch {
	case ch.GetMaglev() != nil:
		out.Maglev, out.TableSize, out.RingSize = true, ch.GetMaglev().GetTableSize(), 0
	case ch.GetRingHash() != nil:
		out.RingSize = ch.GetRingHash().GetMinimumRingSize()
	}
	return out
}

// outlierDetection applies Envoy's defaults as Istio leaves them: consecutive 5xx 5 unless
// set (0 disables), gateway errors off unless set above 0, local-origin failures (with the
// split) at Envoy's 5 unless set above 0, interval 10s, base ejection 30s, maximum
// ejection time max(300s, base), maxEjectionPercent 10 unless set above 0.
func outlierDetection(od *networking.OutlierDetection) *snapshot.OutlierDetection {
	out := &snapshot.OutlierDetection{Consecutive5xx: 5, IntervalMillis: 10000, BaseEjectionMillis: 30000, MaxEjectionPercent: 10,
		SplitLocalOrigin: od.GetSplitExternalLocalOriginErrors(), MinHealthPercent: int(od.GetMinHealthPercent())}
	if od.Consecutive_5XxErrors != nil {
		out.Consecutive5xx = od.Consecutive_5XxErrors.GetValue()
	}
	out.ConsecutiveGateway = od.GetConsecutiveGatewayErrors().GetValue()
	if out.SplitLocalOrigin {
		out.ConsecutiveLocalOrigin = 5
		if v := od.GetConsecutiveLocalOriginFailures().GetValue(); v > 0 {
			out.ConsecutiveLocalOrigin = v
		}
	}
	if d := od.GetInterval(); d != nil {
		out.IntervalMillis = d.AsDuration().Milliseconds()
	}
	if d := od.GetBaseEjectionTime(); d != nil {
		out.BaseEjectionMillis = d.AsDuration().Milliseconds()
	}
	out.MaxEjectionMillis = max(300000, out.BaseEjectionMillis)
	if v := od.GetMaxEjectionPercent(); v > 0 {
		out.MaxEjectionPercent = int(v)
	}
	return out
}

// checkLB returns the errors of every loadBalancer and outlierDetection of dr (each where
// it is written) and reports its warnings on the rule.
func checkLB(warn *findings, dr *networking.DestinationRule) findings {
	var errs findings
	check := func(base string, tp *networking.TrafficPolicy) {
		if tp == nil {
			return
		}
		checkLoadBalancer(&errs, warn, base+".loadBalancer", tp.GetLoadBalancer())
		checkOutlier(&errs, warn, base+".outlierDetection", tp.GetOutlierDetection())
		for i, p := range tp.GetPortLevelSettings() {
			pb := fmt.Sprintf("%s.portLevelSettings[%d]", base, i)
			checkLoadBalancer(&errs, warn, pb+".loadBalancer", p.GetLoadBalancer())
			checkOutlier(&errs, warn, pb+".outlierDetection", p.GetOutlierDetection())
		}
	}
	check("spec.trafficPolicy", dr.GetTrafficPolicy())
	for i, ss := range dr.GetSubsets() {
		check(fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), ss.GetTrafficPolicy())
	}
	return errs
}

func checkLoadBalancer(errs, warn *findings, field string, lb *networking.LoadBalancerSettings) {
	if lb == nil {
		return
	}
	if _, ok := lb.GetLbPolicy().(*networking.LoadBalancerSettings_Simple); ok && lb.GetSimple() == networking.LoadBalancerSettings_PASSTHROUGH {
		errs.errorf(field+".simple", "PASSTHROUGH forwards to the original destination of an intercepted connection, which a gateway does not have")
	}
	hashOrRandom := lb.GetSimple() == networking.LoadBalancerSettings_RANDOM
	if ch := lb.GetConsistentHash(); ch != nil {
		hashOrRandom = true
		checkConsistentHash(errs, warn, field+".consistentHash", ch)
	}
	if w := lb.GetWarmup(); w != nil {
		switch {
		case w.Duration == nil:
			errs.errorf(field+".warmup.duration", "duration is required")
		default:
			durationMS(errs, field+".warmup.duration", w.Duration)
		}
		if w.MinimumPercent.GetValue() > 100 || w.MinimumPercent.GetValue() < 0 {
			errs.errorf(field+".warmup.minimumPercent", "minimumPercent %v is not in 0-100", w.MinimumPercent.GetValue())
		}
		if w.Aggression != nil && w.Aggression.GetValue() <= 0 {
			errs.errorf(field+".warmup.aggression", "aggression should be greater than 0")
		}
	} else if d := lb.GetWarmupDurationSecs(); d != nil {
		durationMS(errs, field+".warmupDurationSecs", d)
	}
	if hashOrRandom && (lb.GetWarmup() != nil || lb.GetWarmupDurationSecs() != nil) {
		warn.warnf(field, "warmup has no effect with RANDOM or consistentHash: Envoy's slow start applies to ROUND_ROBIN and LEAST_REQUEST only (Istio configures none)")
	}
}

func checkConsistentHash(errs, warn *findings, field string, ch *networking.LoadBalancerSettings_ConsistentHashLB) {
	if ck := ch.GetHttpCookie(); ck != nil {
		if ck.GetName() == "" {
			errs.errorf(field+".httpCookie.name", "name required for HttpCookie")
		}
		if d := ck.GetTtl(); d != nil {
			if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
				errs.errorf(field+".httpCookie.ttl", "invalid duration %s", d.AsDuration())
			}
		}
		seen := map[string]bool{}
		for i, a := range ck.GetAttributes() {
			af := fmt.Sprintf("%s.httpCookie.attributes[%d].name", field, i)
			switch n := a.GetName(); {
			case n == "":
				errs.errorf(af, "cookie attribute name cannot be empty")
			case seen[n]:
				errs.errorf(af, "duplicate cookie attribute name: %s", n)
			case strings.ContainsAny(n+a.GetValue(), ";\r\n\x00"):
				errs.errorf(af, "cookie attribute %q contains ';' or a control character", n)
			}
			seen[a.GetName()] = true
		}
	}
	if ch.GetHttpHeaderName() == "" && ch.GetHttpCookie() == nil && !ch.GetUseSourceIp() && ch.GetHttpQueryParameterName() == "" {
		warn.warnf(field, "consistentHash has no hash key: every request goes to a random endpoint, as in Envoy")
	}
	ring := ch.GetMinimumRingSize() //nolint:staticcheck // deprecated field still honoured
	if ring != 0 {
		warn.warnf(field+".minimumRingSize", "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead")
		if ch.GetHashAlgorithm() != nil {
			errs.errorf(field+".minimumRingSize", "only one of MinimumRingSize or Maglev/Ringhash can be specified")
		}
	}
	if rh := ch.GetRingHash(); rh != nil {
		ring = rh.GetMinimumRingSize()
	}
	if ring > ringMaxSize {
		errs.errorf(field+".ringHash.minimumRingSize", "minimumRingSize %d is larger than Envoy's maximum ring size %d", ring, ringMaxSize)
	}
	if ml := ch.GetMaglev(); ml != nil {
		switch n := ml.GetTableSize(); {
		case n == 0:
			errs.errorf(field+".maglev.tableSize", "tableSize must be set for maglev")
		case n >= maglevMaxTableSize:
			errs.errorf(field+".maglev.tableSize", "tableSize must be less than %d for maglev", maglevMaxTableSize)
		case !isPrime(n):
			errs.errorf(field+".maglev.tableSize", "tableSize must be a prime number for maglev")
		}
	}
}

func checkOutlier(errs, warn *findings, field string, od *networking.OutlierDetection) {
	if od == nil {
		return
	}
	if od.GetConsecutiveErrors() != 0 { //nolint:staticcheck // deprecated: warned, as Istio does
		warn.warnf(field+".consecutiveErrors", "outlier detection consecutive errors is deprecated and has no effect, use consecutiveGatewayErrors or consecutive5xxErrors instead")
	}
	if !od.GetSplitExternalLocalOriginErrors() && od.GetConsecutiveLocalOriginFailures().GetValue() > 0 {
		errs.errorf(field+".consecutiveLocalOriginFailures", "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false")
	}
	if d := od.GetInterval(); d != nil {
		durationMS(errs, field+".interval", d)
	}
	if d := od.GetBaseEjectionTime(); d != nil {
		durationMS(errs, field+".baseEjectionTime", d)
	}
	if v := od.GetMaxEjectionPercent(); v < 0 || v > 100 {
		errs.errorf(field+".maxEjectionPercent", "percentage %d is not in 0-100", v)
	}
	if v := od.GetMinHealthPercent(); v < 0 || v > 100 {
		errs.errorf(field+".minHealthPercent", "percentage %d is not in 0-100", v)
	}
}

// durationMS is Istio's ValidateDuration: at least 1ms, in whole milliseconds.
func durationMS(errs *findings, field string, d *durationpb.Duration) {
	if err := d.CheckValid(); err != nil || d.AsDuration() < time.Millisecond {
		errs.errorf(field, "duration must be greater than 1ms")
		return
	}
	if d.AsDuration()%time.Millisecond != 0 {
		errs.errorf(field, "only durations to ms precision are supported")
	}
}

// isPrime is Envoy's primality test of a Maglev table size (as Istio validates it).
func isPrime(x uint64) bool {
	if x != 0 && x < 4 {
		return true
	}
	if x&1 == 0 {
		return false
	}
	limit := uint64(math.Sqrt(float64(x)))
	for f := uint64(3); f <= limit; f += 2 {
		if x%f == 0 {
			return false
		}
	}
	return true
}
