package h2

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/summerwind/h2spec/config"
	"github.com/summerwind/h2spec/generic"
	"github.com/summerwind/h2spec/hpack"
	h2spechttp2 "github.com/summerwind/h2spec/http2"
	"github.com/summerwind/h2spec/spec"
)

// h2specCases is how many cases h2spec v2.2.1 runs without -S (strict): a change in
// the count means the suite changed and the figure in design 0010 is stale.
const h2specCases = 145

// TestH2Spec runs the whole h2spec conformance suite (generic, http2 and hpack groups,
// as the h2spec command without -S) against the server over TLS on loopback; any
// failed or skipped case fails the test. h2spec prints its own report to stdout (seen
// with -v); the failed cases are also listed here.
func TestH2Spec(t *testing.T) {
	if testing.Short() {
		t.Skip("h2spec takes a few seconds")
	}
	// A body of some bytes: h2spec skips its flow-control cases (6.5.3/1, 6.9.2/2)
	// when the response to / has fewer than 5.
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "hello from h2spec's target\n")
	}))
	host, port, _ := net.SplitHostPort(e.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	c := &config.Config{
		Host: host, Port: p, Path: "/",
		// h2spec's default; a case waiting for an answer that never comes fails only
		// after it, so a shorter value would turn a slow answer into a failure.
		Timeout:      2 * time.Second,
		MaxHeaderLen: 4000,
		TLS:          true, Insecure: true,
	}
	groups := []*spec.TestGroup{generic.Spec(), h2spechttp2.Spec(), hpack.Spec()}
	total, passed := 0, 0
	for _, g := range groups {
		g.Test(c) // sequential: h2spec's logger indents through package state
		total += g.PassedCount + g.FailedCount + g.SkippedCount
		passed += g.PassedCount
		for _, f := range failedCases(g) {
			t.Error(f)
		}
	}
	t.Logf("h2spec: %d/%d cases passed", passed, total)
	if total != h2specCases {
		t.Errorf("h2spec ran %d cases, want %d", total, h2specCases)
	}
}

// failedCases lists the failed or skipped cases of g and its subgroups as
// "generic/1/2 desc: error".
func failedCases(g *spec.TestGroup) []string {
	var out []string
	for i, tc := range g.Tests {
		if r := tc.Result; r != nil && (r.Failed || r.Skipped) {
			out = append(out, fmt.Sprintf("%s/%d %s: failed=%v skipped=%v: %v", g.ID(), i+1, tc.Desc, r.Failed, r.Skipped, r.Error))
		}
	}
	for _, sg := range g.Groups {
		out = append(out, failedCases(sg)...)
	}
	return out
}
