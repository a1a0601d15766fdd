package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/portcullis/portcullis/internal/testkit"
)

// TestCheckScript runs check.sh (render, lint, kubectl apply --dry-run=server, RBAC
// semantics with kubectl auth can-i) against the API server in KUBECONFIG. hack/test.sh
// sets KUBECONFIG and PORTCULLIS_KUBE_BIN when it starts the project's test API server.
func TestCheckScript(t *testing.T) {
	kubeconfig, bin := os.Getenv("KUBECONFIG"), os.Getenv("PORTCULLIS_KUBE_BIN")
	if kubeconfig == "" || bin == "" {
		t.Skip("needs a Kubernetes API server: set KUBECONFIG and PORTCULLIS_KUBE_BIN " +
			"(hack/test.sh with PORTCULLIS_KUBE=1 does; see hack/kube/README.md)")
	}
	if _, err := os.Stat(filepath.Join(bin, "kubectl")); err != nil {
		t.Fatalf("PORTCULLIS_KUBE_BIN=%s has no kubectl: %v", bin, err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("check.sh builds the Helm renderer with the go command, which is not on PATH")
	}
	// kubectl auth can-i resolves resource names through discovery: the Gateway API
	// checks need its CRDs served, whichever test of the run installs them first.
	testkit.InstallGatewayAPICRDs(t, filepath.Join(bin, "kubectl"), kubeconfig)

	timeout := 20 * time.Minute // a cold build of the Helm renderer takes a few minutes
	if d, ok := t.Deadline(); ok {
		timeout = time.Until(d) - 30*time.Second
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, "bash", "check.sh")
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		t.Fatalf("deploy/check.sh: %v\n%s", err, out.String())
	}
	t.Logf("deploy/check.sh:\n%s", out.String())
}

// chartValues is the part of values.yaml whose defaults the docs and the walkthrough rely on.
type chartValues struct {
	ReplicaCount  int               `json:"replicaCount"`
	GatewayLabels map[string]string `json:"gatewayLabels"`
	Ports         []struct {
		Name          string `json:"name"`
		Port          int    `json:"port"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	Admin struct {
		Port int `json:"port"`
	} `json:"admin"`
	WatchNamespaces               []string `json:"watchNamespaces"`
	DrainTimeoutSeconds           int      `json:"drainTimeoutSeconds"`
	PreStopSleepSeconds           int      `json:"preStopSleepSeconds"`
	TerminationGracePeriodSeconds int      `json:"terminationGracePeriodSeconds"`
	Service                       struct {
		Type string `json:"type"`
	} `json:"service"`
	PodSecurityContext struct {
		RunAsNonRoot   bool `json:"runAsNonRoot"`
		RunAsUser      int  `json:"runAsUser"`
		SeccompProfile struct {
			Type string `json:"type"`
		} `json:"seccompProfile"`
	} `json:"podSecurityContext"`
	SecurityContext struct {
		AllowPrivilegeEscalation bool `json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool `json:"readOnlyRootFilesystem"`
		RunAsUser                int  `json:"runAsUser"`
		Capabilities             struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"securityContext"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
}

func TestChartDefaults(t *testing.T) {
	b, err := os.ReadFile("helm/portcullis/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v chartValues
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	var ports []string
	for _, p := range v.Ports {
		ports = append(ports, p.Name+":"+strconv.Itoa(p.Port)+"->"+strconv.Itoa(p.ContainerPort))
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"walkthrough Gateway selector matches the pod labels", v.GatewayLabels, map[string]string{"istio": "ingressgateway"}},
		{"80 and 443 on unprivileged container ports", ports, []string{"http2:80->8080", "https:443->8443"}},
		{"admin port", v.Admin.Port, 15000},
		{"more than one replica", v.ReplicaCount > 1, true},
		{"watch all namespaces by default", len(v.WatchNamespaces), 0},
		{"grace period exceeds preStop + drain", v.TerminationGracePeriodSeconds > v.PreStopSleepSeconds+v.DrainTimeoutSeconds, true},
		{"LoadBalancer service", v.Service.Type, "LoadBalancer"},
		{"pod runs as non-root 65532", []any{v.PodSecurityContext.RunAsNonRoot, v.PodSecurityContext.RunAsUser}, []any{true, 65532}},
		{"seccomp RuntimeDefault", v.PodSecurityContext.SeccompProfile.Type, "RuntimeDefault"},
		{"container uid 65532", v.SecurityContext.RunAsUser, 65532},
		{"read-only root filesystem", v.SecurityContext.ReadOnlyRootFilesystem, true},
		{"no privilege escalation", v.SecurityContext.AllowPrivilegeEscalation, false},
		{"all capabilities dropped", v.SecurityContext.Capabilities.Drop, []string{"ALL"}},
		{"PodDisruptionBudget on", v.PodDisruptionBudget.Enabled, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, tc.got); d != "" {
				t.Errorf("values.yaml (-want +got):\n%s", d)
			}
		})
	}
}

func TestDockerfile(t *testing.T) {
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod has no go directive")
	}
	tests := []struct {
		name, pattern string
	}{
		{"builder Go matches go.mod", `(?m)^ARG GO_VERSION=` + regexp.QuoteMeta(string(goLine[1])) + `$`},
		{"golang builder stage", `(?m)^FROM .*golang:\$\{GO_VERSION\} AS build$`},
		{"static binary", `CGO_ENABLED=0`},
		{"trimmed paths", `go build -trimpath`},
		{"distroless nonroot final stage", `(?m)^FROM gcr\.io/distroless/static:nonroot$`},
		{"runs as 65532", `(?m)^USER 65532:65532$`},
		{"entrypoint is the binary", `(?m)^ENTRYPOINT \["/usr/local/bin/portcullis"\]$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !regexp.MustCompile(tc.pattern).Match(df) {
				t.Errorf("Dockerfile does not match %s", tc.pattern)
			}
		})
	}

	// .dockerignore must keep what `go build ./cmd/portcullis` needs.
	di, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum", "cmd", "internal", "internal/demo/manifests"}
	for _, line := range strings.Split(string(di), "\n") {
		pat := strings.Trim(strings.TrimSpace(line), "/")
		if pat == "" || strings.HasPrefix(pat, "#") {
			continue
		}
		for _, n := range needed {
			if ok, _ := filepath.Match(pat, n); ok || pat == n {
				t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", line, n)
			}
		}
	}
}
