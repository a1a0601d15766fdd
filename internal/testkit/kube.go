package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RealCluster returns a client config for the test control plane (hack/kube/up.sh) and
// the path of its kubectl, or skips the test when it is not running.
func RealCluster(t testing.TB) (*rest.Config, string) {
	t.Helper()
	kubeconfig, bin := os.Getenv("KUBECONFIG"), os.Getenv("PORTCULLIS_KUBE_BIN")
	if kubeconfig == "" || bin == "" {
		t.Skip("needs the test control plane: set KUBECONFIG and PORTCULLIS_KUBE_BIN " +
			"(PORTCULLIS_KUBE=1 hack/test.sh does, or see hack/kube/README.md)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("KUBECONFIG %s: %v", kubeconfig, err)
	}
	return cfg, filepath.Join(bin, "kubectl")
}

// GatewayAPIVersion is the sigs.k8s.io/gateway-api release whose CRDs the tests install.
const GatewayAPIVersion = "v1.6.3"

// InstallGatewayAPICRDs installs the standard-channel Gateway API CRDs shipped in the
// sigs.k8s.io/gateway-api module (the version in go.mod) into the API server of
// kubeconfig, unless CRDs of that bundle version are there already, and waits until they
// are served. kubectl is the path of the kubectl binary. Test packages running at the same
// time may both apply: server-side apply of the same manifests is idempotent.
func InstallGatewayAPICRDs(t testing.TB, kubectl, kubeconfig string) {
	t.Helper()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	const probe = "httproutes.gateway.networking.k8s.io"
	if v, err := run("get", "crd", probe, "-o", `jsonpath={.metadata.annotations.gateway\.networking\.k8s\.io/bundle-version}`); err == nil && v == GatewayAPIVersion {
		return
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("locating the sigs.k8s.io/gateway-api module: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard", "gateway.networking.k8s.io_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in the sigs.k8s.io/gateway-api module (%v)", err)
	}
	// The CRDs only: the bundle's ValidatingAdmissionPolicy (vap_safeupgrades) would
	// forbid a test from installing the experimental channel later.
	apply := []string{"apply", "--server-side", "--force-conflicts"}
	wait := []string{"wait", "--for=condition=Established", "--timeout=60s"}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".yaml")
		group, plural, _ := strings.Cut(base, "_")
		if strings.HasPrefix(plural, "vap_") {
			continue
		}
		apply = append(apply, "-f", f)
		wait = append(wait, "crd/"+plural+"."+group)
	}
	for _, args := range [][]string{apply, wait} {
		if out, err := run(args...); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
