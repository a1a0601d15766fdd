package report

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/load"
)

// The backends tables sum the upstream's handshakes over rounds, leave failed runs out of
// the medians and name them.
func TestBackendsTables(t *testing.T) {
	r := &Results{Runs: []Run{
		{Round: 0, Target: "portcullis", Case: "upstream-tls", Result: &load.Result{ReqPerSec: 1000, CPUPerReq: 50},
			Upstream: &backend.Counts{HandshakesFull: 1, HandshakesResumed: 9, Requests: 1000}},
		{Round: 1, Target: "portcullis", Case: "upstream-tls", Result: &load.Result{ReqPerSec: 3000, CPUPerReq: 70},
			Upstream: &backend.Counts{HandshakesResumed: 10, Requests: 1000}},
		{Round: 0, Target: "nginx", Case: "grpc", Result: &load.Result{ReqPerSec: 9999, CPUPerReq: 1}, Error: "failed requests: grpc_Internal=3"},
	}}
	var b strings.Builder
	backendsTables(&b, r)
	out := b.String()
	for _, want := range []string{
		"| portcullis | 2,000 (1,000–3,000) |",
		"| 60.0 (50.0–70.0) |",
		"| 1 / 19 | 100 |",
		"| nginx | – |",
		"**round 1: failed requests: grpc_Internal=3**",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
