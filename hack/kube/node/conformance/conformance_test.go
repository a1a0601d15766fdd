// Package conformance runs the upstream Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, GATEWAY-HTTP profile) against the cluster in
// $KUBECONFIG — meant for the test control plane started with
// hack/kube/up.sh --with-nodes, whose node runs the suite's echo-basic backends.
//
// hack/kube/conformance.sh is the way to run it: it starts the control plane, portcullis
// and the GatewayClass, runs this test, keeps the report and compares the tests that
// passed with docs/conformance/known-passing.txt (design 0024). The test is skipped unless
// PORTCULLIS_GATEWAY_CONFORMANCE=1. It lives in this nested module (never the project's
// go.mod): the conformance module pulls controller-runtime and would upgrade the project's
// grpc (see docs/design/0018-test-control-plane-nodes.md).
//
//	PORTCULLIS_GATEWAY_CONFORMANCE=1 KUBECONFIG=$state/kubeconfig \
//	  PORTCULLIS_KUBE_BIN=... GOWORK=off go test -count=1 -v -timeout 60m ./conformance/
//
// The GatewayClass must exist (controllerName portcullis.io/gateway-controller); the suite
// first waits for its controller to accept it.
//
// Environment: PORTCULLIS_GATEWAY_CLASS (default "portcullis"), PORTCULLIS_CONFORMANCE_REPORT
// (default $TMPDIR/portcullis-gateway-conformance-report.yaml), PORTCULLIS_CONFORMANCE_RUN_TEST
// (run one test by its short name), PORTCULLIS_CONFORMANCE_SKIP_TESTS (comma-separated short
// names), PORTCULLIS_CONFORMANCE_MAX_WAIT (a Go duration: no wait of the suite's timeout
// configuration is longer; bounds a run whose tests fail by timing out),
// PORTCULLIS_CONFORMANCE_EXTRA_FEATURES (feature names claimed beyond the core ones).
package conformance

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// installCRDs applies the standard-channel CRDs of the gateway-api module version this
// module pins (the suite refuses CRDs of another version unless AllowCRDsMismatch).
func installCRDs(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("locating sigs.k8s.io/gateway-api: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	kubectl := filepath.Join(os.Getenv("PORTCULLIS_KUBE_BIN"), "kubectl")
	if os.Getenv("PORTCULLIS_KUBE_BIN") == "" {
		kubectl = "kubectl"
	}
	for _, args := range [][]string{
		{"apply", "--server-side", "-f", dir},
		{"wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"},
	} {
		if out, err := exec.Command(kubectl, args...).CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// claimedProfiles are the conformance profiles run by default. One run of the suite covers
// them all (a test runs once, and counts in each profile whose features it uses); the
// report has one entry per profile. GATEWAY-TLS is run though one of its core tests fails
// (docs/kubernetes.md says which and why), so that the report shows it.
var claimedProfiles = []suite.ConformanceProfileName{
	suite.GatewayHTTPConformanceProfileName, suite.GatewayTLSConformanceProfileName,
	suite.GatewayGRPCConformanceProfileName, suite.GatewayTCPConformanceProfileName,
}

// profileCore is the core feature each profile adds to Gateway, ReferenceGrant and HTTPRoute.
var profileCore = map[suite.ConformanceProfileName][]features.FeatureName{
	suite.GatewayTLSConformanceProfileName:  {features.SupportTLSRoute},
	suite.GatewayGRPCConformanceProfileName: {features.SupportGRPCRoute},
	suite.GatewayTCPConformanceProfileName:  {features.SupportTCPRoute},
}

// extendedClaimed are the extended features claimed (names of
// sigs.k8s.io/gateway-api/pkg/features): every test of each passes.
var extendedClaimed = []string{
	"GatewayPort8080", "GatewayFrontendClientCertificateValidation",
	"HTTPRouteQueryParamMatching", "HTTPRouteMethodMatching", "HTTPRouteResponseHeaderModification",
	"HTTPRouteBackendRequestHeaderModification", "HTTPRoutePortRedirect", "HTTPRouteSchemeRedirect", "HTTPRoutePathRedirect",
	"HTTPRouteHostRewrite", "HTTPRoutePathRewrite", "HTTPRouteRequestTimeout", "HTTPRouteBackendTimeout",
	"HTTPRouteParentRefPort", "HTTPRoute303RedirectStatusCode", "HTTPRoute307RedirectStatusCode",
	"HTTPRoute308RedirectStatusCode", "HTTPRouteNamedRouteRule", "GRPCRouteNamedRouteRule",
	"BackendTLSPolicy", "BackendTLSPolicySANValidation", "TLSRouteModeTerminate", "TLSRouteModeMixed",
	"HTTPRouteRequestMirror", "HTTPRouteRequestMultipleMirrors", "HTTPRouteRequestPercentageMirror",
	"HTTPRouteCORS",
}

func TestGatewayAPIConformance(t *testing.T) {
	if os.Getenv("PORTCULLIS_GATEWAY_CONFORMANCE") != "1" {
		t.Skip("PORTCULLIS_GATEWAY_CONFORMANCE=1 not set (portcullis does not implement the Gateway API yet)")
	}
	if os.Getenv("KUBECONFIG") == "" {
		t.Fatal("KUBECONFIG must point at the control plane (hack/kube/up.sh --with-nodes)")
	}
	installCRDs(t)

	opts := conformance.DefaultOptions(t)
	opts.GatewayClassName = env("PORTCULLIS_GATEWAY_CLASS", "portcullis")
	// PORTCULLIS_CONFORMANCE_PROFILES (comma-separated) narrows the profiles run.
	profiles := claimedProfiles
	if v := os.Getenv("PORTCULLIS_CONFORMANCE_PROFILES"); v != "" {
		profiles = nil
		for _, p := range strings.Split(v, ",") {
			profiles = append(profiles, suite.ConformanceProfileName(strings.TrimSpace(p)))
		}
	}
	opts.ConformanceProfiles = profiles
	opts.ReportOutputPath = env("PORTCULLIS_CONFORMANCE_REPORT", filepath.Join(os.TempDir(), "portcullis-gateway-conformance-report.yaml"))
	opts.RunTest = os.Getenv("PORTCULLIS_CONFORMANCE_RUN_TEST")
	if skip := os.Getenv("PORTCULLIS_CONFORMANCE_SKIP_TESTS"); skip != "" {
		opts.SkipTests = append(opts.SkipTests, strings.Split(skip, ",")...)
	}
	if v := os.Getenv("PORTCULLIS_CONFORMANCE_MAX_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PORTCULLIS_CONFORMANCE_MAX_WAIT: %v", err)
		}
		capTimeouts(&opts.TimeoutConfig, d)
	}
	// Claimed features are stated, not inferred from the GatewayClass status: the core
	// features of the profiles run (Gateway, HTTPRoute and ReferenceGrant always, plus
	// TLSRoute, GRPCRoute, TCPRoute with their profiles), and the extended ones whose every
	// test passes (grow this list with the support). Advertised by the GatewayClass but not
	// claimed here: HTTPRouteCORS (preflight answers lack access-control-expose-headers).
	// (The mirror tests read the mirror backend's pod logs, which the node serves.)
	opts.SupportedFeatures = features.SetsToNamesSet(features.GatewayCoreFeatures,
		features.HTTPRouteCoreFeatures, features.ReferenceGrantCoreFeatures).UnsortedList()
	for _, p := range profiles {
		opts.SupportedFeatures = append(opts.SupportedFeatures, profileCore[p]...)
	}
	for _, f := range extendedClaimed {
		opts.SupportedFeatures = append(opts.SupportedFeatures, features.FeatureName(f))
	}
	// PORTCULLIS_CONFORMANCE_EXTRA_FEATURES (comma-separated feature names) claims more, to
	// try extended features before they are claimed here.
	for _, f := range strings.Split(os.Getenv("PORTCULLIS_CONFORMANCE_EXTRA_FEATURES"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			opts.SupportedFeatures = append(opts.SupportedFeatures, features.FeatureName(f))
		}
	}
	opts.CleanupBaseResources = true
	runnableBase(t, &opts)
	opts.Implementation = confv1.Implementation{
		Organization: "portcullis",
		Project:      "portcullis",
		URL:          "https://github.com/portcullis/portcullis",
		Version:      env("PORTCULLIS_VERSION", "dev"),
		Contact:      []string{"@portcullis/maintainers"},
	}
	t.Logf("report: %s", opts.ReportOutputPath)
	conformance.RunConformanceWithOptions(t, opts)
}

// capTimeouts lowers every wait of the suite's timeout configuration to at most d
// (portcullis applies a change in about a second; the defaults allow minutes, which only
// matters for how long a failing test takes to fail). The poll interval is left alone.
func capTimeouts(tc *config.TimeoutConfig, d time.Duration) {
	v := reflect.ValueOf(tc).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Type() != reflect.TypeOf(time.Duration(0)) || v.Type().Field(i).Name == "DefaultPollInterval" {
			continue
		}
		if time.Duration(f.Int()) > d {
			f.SetInt(int64(d))
		}
	}
}

// runnableBase applies the suite's base manifests without what the node cannot run and
// no test of the features claimed uses, which the suite's setup would otherwise wait for
// until its timeout: the coredns Deployment, Service and ConfigMap (the UDPRoute backend;
// the node has no coredns image). The tls-backend and tcp-backend Deployments mount their
// certificate from a Secret volume, which the node mounts (design 0030).
func runnableBase(t *testing.T, opts *suite.ConformanceOptions) {
	b, err := fs.ReadFile(&conformance.Manifests, "base/manifests.yaml")
	if err != nil {
		t.Fatalf("base manifests: %v", err)
	}
	var keep []string
	for _, doc := range strings.Split(string(b), "\n---\n") {
		if strings.Contains(doc, "\n  name: coredns\n") {
			continue
		}
		keep = append(keep, doc)
	}
	opts.ManifestFS = append(opts.ManifestFS, fstest.MapFS{"portcullis/base.yaml": {Data: []byte(strings.Join(keep, "\n---\n"))}})
	opts.BaseManifests = "portcullis/base.yaml"
}
