package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	istionet "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/source/kube"
	"github.com/portcullis/portcullis/internal/status"

	"github.com/portcullis/portcullis/internal/testkit"
)

// TestChartRBACSufficesForTheKubeSource installs the rendered chart into a fresh namespace,
// then runs the real Kubernetes source and event publisher as the chart's ServiceAccount
// (a TokenRequest token, nothing else): every informer must sync under exactly the RBAC the
// chart grants, only the gateway namespace's Secrets may be seen, and an Event must be
// posted on a Gateway. check.sh asserts the rules with `kubectl auth can-i`; this asserts
// that those rules are enough for the code that uses them.
func TestChartRBACSufficesForTheKubeSource(t *testing.T) {
	kubeconfig, bin := os.Getenv("KUBECONFIG"), os.Getenv("PORTCULLIS_KUBE_BIN")
	if kubeconfig == "" || bin == "" {
		t.Skip("needs a Kubernetes API server: set KUBECONFIG and PORTCULLIS_KUBE_BIN " +
			"(hack/test.sh with PORTCULLIS_KUBE=1 does; see hack/kube/README.md)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("render.sh builds the Helm renderer with the go command, which is not on PATH")
	}
	admin, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		watch bool // watchNamespaces = {ns} instead of cluster-wide
		gwapi bool // gatewayAPI.enabled: the Gateway API watch and the status writer too
		// gatewayAPI.publishService, watching only namespace default: the chart's own
		// Service is read through the publish Role alone.
		publish bool
	}{
		{name: "cluster-wide"},
		{name: "watchNamespaces", watch: true},
		{name: "gatewayAPI", watch: true, gwapi: true},
		{name: "publishService", publish: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := "pc-rbac-" + randHex(t)
			var watch []string
			args := []string{"--namespace", ns}
			if tc.watch {
				watch = []string{ns}
				args = append(args, "--set", "watchNamespaces={"+ns+"}")
			}
			if tc.gwapi {
				// Served before the source starts: it discovers the Gateway API once.
				testkit.InstallGatewayAPICRDs(t, filepath.Join(bin, "kubectl"), kubeconfig)
				args = append(args, "--set", "gatewayAPI.enabled=true")
			}
			if tc.publish {
				watch = []string{"default"}
				args = append(args, "--set", "watchNamespaces={default}", "--set", "gatewayAPI.enabled=true", "--set", "gatewayAPI.publishService=true")
				publishAsServiceAccount(t, admin, filepath.Join(bin, "kubectl"), ns, watch, args)
				return
			}
			runSourceAsChartServiceAccount(t, admin, filepath.Join(bin, "kubectl"), ns, watch, tc.gwapi, args)
		})
	}
}

// installChart creates namespace ns, renders the chart into it with renderArgs and applies
// it (deleted again at the end of the test).
func installChart(ctx context.Context, t *testing.T, kc kubernetes.Interface, kubectl, ns string, renderArgs []string) {
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	manifests := filepath.Join(t.TempDir(), "portcullis.yaml")
	render := exec.CommandContext(ctx, "bash", append([]string{"helm/render.sh"}, renderArgs...)...)
	var out, errb bytes.Buffer
	render.Stdout, render.Stderr = &out, &errb
	if err := render.Run(); err != nil {
		t.Fatalf("render.sh %v: %v\n%s", renderArgs, err, errb.String())
	}
	if err := os.WriteFile(manifests, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectlRun(ctx, t, kubectl, "apply", "-f", manifests)
	t.Cleanup(func() {
		// Namespaced objects go with the namespace (which stays Terminating on an API
		// server without controllers: harmless, the name is fresh); cluster-scoped ones
		// must be deleted explicitly.
		kubectlRun(context.Background(), t, kubectl, "delete", "--ignore-not-found", "--wait=false", "-f", manifests)
		kubectlRun(context.Background(), t, kubectl, "delete", "namespace", ns, "--ignore-not-found", "--wait=false")
	})
}

// chartServiceAccount is a client config with a TokenRequest token of the chart's
// ServiceAccount in ns, and nothing else.
func chartServiceAccount(ctx context.Context, t *testing.T, kc kubernetes.Interface, admin *rest.Config, ns string) *rest.Config {
	tr, err := kc.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "portcullis",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa := rest.AnonymousClientConfig(admin)
	sa.BearerToken = tr.Status.Token
	return sa
}

// publishAsServiceAccount runs the source with --gateway-publish-service's option as the
// chart's ServiceAccount, which may read the chart's Service only through the publish
// Role: the Service's load balancer addresses, set through the API, must be published.
func publishAsServiceAccount(t *testing.T, admin *rest.Config, kubectl, ns string, watch []string, renderArgs []string) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	kc := kubernetes.NewForConfigOrDie(admin)
	installChart(ctx, t, kc, kubectl, ns, renderArgs)
	sa := chartServiceAccount(ctx, t, kc, admin, ns)
	svc, err := kc.CoreV1().Services(ns).Get(ctx, "portcullis", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.20"}}
	if _, err := kc.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	bundles := make(chan *resources.Bundle, 64)
	src, err := kube.NewForClients(kube.Options{Namespace: ns, WatchNamespaces: watch, DisableGatewayAPI: true, PublishService: ns + "/portcullis"},
		kubernetes.NewForConfigOrDie(sa), istioclient.NewForConfigOrDie(sa), func(b *resources.Bundle) {
			select {
			case bundles <- b:
			default:
			}
		}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(runCtx) }()
	defer func() { stop(); <-done }()
	for {
		select {
		case b := <-bundles:
			if slices.Equal(b.GatewayAPI.PublishAddresses, []string{"203.0.113.20"}) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("the chart's Service address was not published as its ServiceAccount; log:\n%s", logs.String())
		}
	}
}

func runSourceAsChartServiceAccount(t *testing.T, admin *rest.Config, kubectl, ns string, watch []string, gwapi bool, renderArgs []string) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	kc := kubernetes.NewForConfigOrDie(admin)
	ic := istioclient.NewForConfigOrDie(admin)
	installChart(ctx, t, kc, kubectl, ns, renderArgs)

	// A Secret in the gateway namespace (must be seen), one in another namespace (must
	// not), and a Gateway whose selector no real gateway matches (so that no other test's
	// gateway ever binds it).
	mk := func(namespace, name string) {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: map[string][]byte{"cert": []byte("x")}}
		if _, err := kc.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk(ns, "frontend-credential")
	mk("default", ns+"-elsewhere")
	t.Cleanup(func() {
		_ = kc.CoreV1().Secrets("default").Delete(context.Background(), ns+"-elsewhere", metav1.DeleteOptions{})
	})
	gw := &networkingv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"},
		Spec: istionet.Gateway{
			Selector: map[string]string{"portcullis.test/rbac": ns},
			Servers: []*istionet.Server{{
				Port:  &istionet.Port{Number: 80, Name: "http", Protocol: "HTTP"},
				Hosts: []string{ns + ".example.test"},
			}},
		},
	}
	if _, err := ic.NetworkingV1().Gateways(ns).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The chart's ServiceAccount, and nothing but it.
	sa := chartServiceAccount(ctx, t, kc, admin, ns)
	skc := kubernetes.NewForConfigOrDie(sa)
	sic := istioclient.NewForConfigOrDie(sa)

	var logs testkit.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	bundles := make(chan *resources.Bundle, 64)
	src, err := kube.NewForClients(kube.Options{Namespace: ns, WatchNamespaces: watch, PodMetadata: metadata.NewForConfigOrDie(sa)}, skc, sic,
		func(b *resources.Bundle) {
			select {
			case bundles <- b:
			default:
			}
		}, logger)
	if err != nil {
		t.Fatal(err)
	}
	if gwapi {
		src.SetGatewayAPIClient(gwclient.NewForConfigOrDie(sa))
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(runCtx) }()
	defer func() { stop(); <-done }()

	var b *resources.Bundle
	deadline := time.After(60 * time.Second)
	for b == nil || len(b.Gateways) == 0 {
		select {
		case b = <-bundles:
		case err := <-done:
			t.Fatalf("source stopped: %v", err)
		case <-deadline:
			t.Fatal("the kube source did not sync (and see the Gateway) within 60 s as the chart's ServiceAccount; a missing RBAC rule shows as 'forbidden' in the gateway log")
		}
	}
	var secrets []string
	for _, s := range b.Secrets {
		secrets = append(secrets, s.Namespace+"/"+s.Name)
	}
	sort.Strings(secrets)
	if d := cmp.Diff([]string{ns + "/frontend-credential"}, secrets); d != "" {
		t.Errorf("Secrets seen by the gateway (-want +got):\n%s", d)
	}

	if gwapi {
		if !strings.Contains(logs.String(), "watching the Gateway API") {
			t.Errorf("the source does not watch the Gateway API; log:\n%s", logs.String())
		}
		statusAsServiceAccount(ctx, t, admin, sa, ns)
	}

	// Events: post a diagnostic on the Gateway and find it with the admin client.
	pub := kube.NewEventPublisher(skc, src, logger)
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Run(runCtx) }()
	defer func() { stop(); <-pubDone }()
	pub.PublishDiagnostics([]diag.Diagnostic{{Severity: diag.Warning, Kind: "Gateway", Namespace: ns, Name: "probe", Field: "spec", Message: "rbac probe"}})
	for {
		evs, err := kc.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=probe"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs.Items) > 0 {
			if got := evs.Items[0].Reason; got != kube.ReasonConfigWarning {
				t.Errorf("event reason %q, want %q", got, kube.ReasonConfigWarning)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no Event posted on the Gateway as the chart's ServiceAccount")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// statusAsServiceAccount runs the Gateway API status writer, with leader election, as the
// chart's ServiceAccount: it must take the chart's Lease and write the status of a
// GatewayClass, a Gateway and an HTTPRoute.
func statusAsServiceAccount(ctx context.Context, t *testing.T, admin, sa *rest.Config, ns string) {
	t.Helper()
	gc := gwclient.NewForConfigOrDie(admin)
	class := ns // cluster-scoped: the fresh namespace's name keeps it unique
	if _, err := gc.GatewayV1().GatewayClasses().Create(ctx, &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: class},
		Spec: gwv1.GatewayClassSpec{ControllerName: status.DefaultControllerName}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gc.GatewayV1().GatewayClasses().Delete(context.Background(), class, metav1.DeleteOptions{})
	})
	if _, err := gc.GatewayV1().Gateways(ns).Create(ctx, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gw"},
		Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(class),
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.GatewayV1().HTTPRoutes(ns).Create(ctx, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "r"},
		Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	accepted := []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 1}}
	w := status.NewWriter(gwclient.NewForConfigOrDie(sa), status.WriterOptions{Namespaces: []string{ns},
		LeaderElection: &status.LeaderElection{Client: kubernetes.NewForConfigOrDie(sa), Namespace: ns,
			Name: "portcullis-status", Identity: "rbac-probe"}})
	w.Publish([]status.Update{
		{Group: gwv1.GroupName, Kind: "GatewayClass", Name: class, Status: &gwv1.GatewayClassStatus{Conditions: accepted}},
		{Group: gwv1.GroupName, Kind: "Gateway", Namespace: ns, Name: "gw", Status: &gwv1.GatewayStatus{Conditions: accepted}},
		{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: ns, Name: "r", Status: &gwv1.HTTPRouteStatus{RouteStatus: gwv1.RouteStatus{
			Parents: []gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "gw"}, ControllerName: status.DefaultControllerName, Conditions: accepted}}}}},
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	defer func() { stop(); <-done }()
	testkit.Eventually(t, 60*time.Second, "statuses written as the chart's ServiceAccount", func() error {
		if w.Writes() < 3 {
			return fmt.Errorf("%d status writes (leading: %v): a rule the writer needs is missing from the chart", w.Writes(), w.Leading())
		}
		return nil
	})
	r, err := gc.GatewayV1().HTTPRoutes(ns).Get(ctx, "r", metav1.GetOptions{})
	if err != nil || len(r.Status.Parents) != 1 || r.Status.Parents[0].ControllerName != status.DefaultControllerName {
		t.Errorf("HTTPRoute status %+v, %v", r.Status, err)
	}
	l, err := kubernetes.NewForConfigOrDie(admin).CoordinationV1().Leases(ns).Get(ctx, "portcullis-status", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "rbac-probe" {
		t.Errorf("Lease %s/portcullis-status: %+v, %v", ns, l, err)
	}
}

func kubectlRun(ctx context.Context, t *testing.T, kubectl string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, kubectl, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("kubectl %v: %v\n%s", args, err, out)
	}
}

func randHex(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func ptr[T any](v T) *T { return &v }
