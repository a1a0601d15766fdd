package dataplane

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// ResponseFlags are Envoy's response flags of one request (%RESPONSE_FLAGS% in an access
// log), kept in the exchange so an access log can print them.
type ResponseFlags uint16

// The flags portcullis sets, with Envoy's short names.
const (
	FlagNoHealthyUpstream               ResponseFlags = 1 << iota // UH
	FlagUpstreamConnectionFailure                                 // UF
	FlagUpstreamRemoteReset                                       // UR
	FlagUpstreamRequestTimeout                                    // UT
	FlagUpstreamRetryLimitExceeded                                // URX
	FlagUpstreamOverflow                                          // UO
	FlagFaultInjected                                             // FI
	FlagDelayInjected                                             // DI
	FlagDownstreamConnectionTermination                           // DC
	FlagNoRouteFound                                              // NR
	// FlagFailClosed: the matched rule could not be honoured and answered its 500
	// (snapshot.FailFlag, "FC"); not an Envoy flag, since Envoy never serves such a rule.
	FlagFailClosed
)

// flagNames are the flags' names in bit order.
const flagNames = "UH,UF,UR,UT,URX,UO,FI,DI,DC,NR," + snapshot.FailFlag

// String lists the flags comma-separated as Envoy prints them; "-" when none.
func (f ResponseFlags) String() string {
	if f == 0 {
		return "-"
	}
	var out []string
	for i, n := range strings.Split(flagNames, ",") {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// failureFlag classifies an upstream error: a connect failure (UF), a timeout (UT), the
// client going away (DC) or a reset/disconnect (UR).
func failureFlag(ctx context.Context, err error) ResponseFlags {
	var op *net.OpError
	var ne net.Error
	switch {
	case ctx.Err() == context.Canceled:
		return FlagDownstreamConnectionTermination
	case upstream.IsOverflow(err):
		return FlagUpstreamOverflow
	case errors.As(err, &op) && op.Op == "dial":
		return FlagUpstreamConnectionFailure
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return FlagUpstreamRequestTimeout
	}
	return FlagUpstreamRemoteReset
}
